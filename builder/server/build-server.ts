import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { runBuildCommand, type StopBuild } from '../build-command.js';
import type { BuildRequest } from './build-client.js';
import { FRAME, readFrames, writeFrame, type FrameType } from './frames.js';
import { buildServerAddress, installationIdentity, type BuildServerAddress } from './server-address.js';

/**
 * `wharf build-server`: keeps the builder loaded between builds, as buildkitd does for docker build,
 * so that a build pays node's start and not the loading of its modules. One build at a time, run
 * as in its client's process (working directory, environment, umask); a client that finds it busy
 * builds in its own process. Ctrl-C in a client stops its build and this server with it, as it would
 * stop an in-process build: a build's steps cannot be unwound one by one. Exits after the idle time,
 * or at the next request once wharf was rebuilt or reinstalled under it.
 */
export async function runBuildServer(): Promise<number> {
  const address = buildServerAddress(process.env);
  if (address === undefined) {
    console.error('wharf build-server: turned off (WHARF_BUILD_SERVER_IDLE=0) or no private directory for its socket (WHARF_BUILD_SERVER_DIR)');
    return 2;
  }
  const server = createServer();
  if (!(await listenUnlessServed(server, address.socket))) {
    console.log(`wharf build-server: another server listens on ${address.socket}`);
    return 0;
  }
  writeFileSync(address.pidFile, `${process.pid}\n`);
  console.log(`wharf build-server: pid ${process.pid} on ${address.socket}, exits after ${address.idleSeconds} s idle`);
  new BuildServer(server, address).waitForBuilds();
  return new Promise(() => {});
}

/** Listens on `path`, replacing a socket file no process answers on; false when a live server has it. */
async function listenUnlessServed(server: Server, path: string): Promise<boolean> {
  const listen = () =>
    new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(path, () => {
        server.off('error', resolve);
        resolve(undefined);
      });
    });
  const error = await listen();
  if (error === undefined) return true;
  if (error.code !== 'EADDRINUSE') throw error;
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect(path, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (answered) return false;
  unlinkSync(path);
  const again = await listen();
  if (again !== undefined) throw again;
  return true;
}

/** How often an idle server checks that wharf was not rebuilt or reinstalled under it. */
const STALE_CHECK_MS = 2000;

class BuildServer {
  private busy = false;
  private builds = 0;
  private idleTimer?: NodeJS.Timeout;
  private readonly identity = installationIdentity();
  /** The socket and pid file by inode: told apart from those a newer server may have made at the same paths. */
  private readonly files: ReadonlyMap<string, number | undefined>;

  constructor(
    private readonly server: Server,
    private readonly address: BuildServerAddress,
  ) {
    this.files = new Map([address.socket, address.pidFile].map((path) => [path, statSync(path, { throwIfNoEntry: false })?.ino]));
  }

  waitForBuilds(): void {
    // Between builds too: its socket is named after its installation, so no client of a new one would tell it.
    setInterval(() => !this.busy && this.isStale() && this.exit(0, 'wharf was rebuilt or reinstalled'), STALE_CHECK_MS).unref();
    this.server.on('connection', (socket) => {
      let interrupt: ((signal: string) => void) | undefined;
      socket.on('error', () => {});
      readFrames(socket, (type, payload) => {
        if (type === FRAME.request && interrupt === undefined) interrupt = this.serve(socket, JSON.parse(payload.toString()) as BuildRequest);
        else if (type === FRAME.cancel) interrupt?.(payload.toString());
      });
    });
    this.armIdleTimer();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.exit(0, 'idle'), this.address.idleSeconds * 1000);
  }

  /** Whether the compiled files changed (or went) under this process, which would build with the old code. */
  private isStale(): boolean {
    try {
      return installationIdentity() !== this.identity;
    } catch {
      return true;
    }
  }

  /** Starts the build `request` asks for, unless busy or stale; returns what stops it. */
  private serve(socket: Socket, request: BuildRequest): (signal: string) => void {
    const stale = request.identity !== this.identity || this.isStale();
    if (this.busy || stale) {
      writeFrame(socket, FRAME.declined, this.busy ? 'busy' : 'stale');
      socket.end();
      if (stale && !this.busy) this.exit(0, 'wharf was rebuilt or reinstalled');
      return () => {};
    }
    this.busy = true;
    clearTimeout(this.idleTimer);
    const number = ++this.builds;
    let stop: StopBuild | undefined;
    let finished = false;
    const finish = (code: number, log: string, exitServer: boolean) => {
      finished = true;
      writeFrame(socket, FRAME.exit, String(code));
      socket.end(() => exitServer && this.exit(code, log));
      if (exitServer) {
        // A client that is gone never acknowledges the end.
        setTimeout(() => this.exit(code, log), 1000).unref();
        return;
      }
      console.log(log);
      this.busy = false;
      this.armIdleTimer();
    };
    // Ctrl-C in the client, or the client gone (killed): stop the build as its own process would have been.
    const interrupt = (signal: string) => {
      if (finished) return;
      stop?.(signal);
      finish(130, `build ${number} interrupted by ${signal}`, true);
    };
    socket.on('close', () => interrupt('SIGHUP'));
    writeFrame(socket, FRAME.accepted);
    const started = Date.now();
    void (async () => {
      try {
        process.chdir(request.cwd);
        replaceEnvironment(request.env);
        process.umask(request.umask);
        const stderr = Object.assign(frameStream(socket, FRAME.stderr), { isTTY: request.stderrIsTTY });
        const code = await runBuildCommand(request.args, { stdout: frameStream(socket, FRAME.stdout), stderr, env: process.env }, (stopBuild) => (stop = stopBuild));
        if (!finished) finish(code, `build ${number} in ${request.cwd}: exit ${code}, ${((Date.now() - started) / 1000).toFixed(2)} s`, false);
      } catch (error) {
        // Not a build failure (those are exit code 1 with their message) but a fault of this server: start afresh.
        if (finished) return;
        writeFrame(socket, FRAME.stderr, `wharf build: ${(error as Error).message}\n`);
        finish(1, `build ${number} failed in the server: ${(error as Error).stack}`, true);
      }
    })();
    return interrupt;
  }

  /** Stops listening and exits, removing the socket and pid file unless a newer server's replaced them. */
  private exit(code: number, why: string): never {
    console.log(`wharf build-server: exiting: ${why}`);
    this.server.close();
    for (const [path, inode] of this.files) if (statSync(path, { throwIfNoEntry: false })?.ino === inode) unlinkSync(path);
    process.exit(code);
  }
}

/** Makes this process's environment `env`, for the build it is about to run (modules read process.env). */
function replaceEnvironment(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  Object.assign(process.env, env);
}

/** A stream whose every write goes to the client as one frame of `type`. */
function frameStream(socket: Socket, type: FrameType): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!socket.destroyed) writeFrame(socket, type, chunk);
      callback();
    },
  });
}
