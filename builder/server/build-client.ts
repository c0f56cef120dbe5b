import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { FRAME, readFrames, writeFrame } from './frames.js';
import { buildServerAddress, type BuildServerAddress } from './server-address.js';

/** What a client asks of the build server: its command line, and the process state the build would have had in-process. */
export interface BuildRequest {
  readonly identity: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly umask: number;
  readonly stderrIsTTY: boolean;
}

/**
 * Runs `wharf build ARGS` on this installation's build server and relays its output, Ctrl-C and
 * exit code: the exit code, or undefined when the build must run in this process instead (no server,
 * busy, or turned off). With no server listening, one is started for the next build, as buildkitd
 * serves docker build: this build does not wait for it.
 */
export function buildOnServer(args: string[]): Promise<number | undefined> {
  const address = buildServerAddress(process.env);
  if (address === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const socket = connect(address.socket);
    let accepted = false;
    let exitCode: number | undefined;
    const cancel = (signal: NodeJS.Signals) => writeFrame(socket, FRAME.cancel, signal);
    socket.on('connect', () => {
      const request: BuildRequest = { identity: address.identity, args, cwd: process.cwd(), env: process.env, umask: process.umask(), stderrIsTTY: process.stderr.isTTY === true };
      writeFrame(socket, FRAME.request, JSON.stringify(request));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!accepted && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) startServer(address);
    });
    readFrames(socket, (type, payload) => {
      if (type === FRAME.accepted) {
        accepted = true;
        // The server is in a session of its own: the terminal's Ctrl-C reaches only this process.
        process.on('SIGINT', cancel).on('SIGTERM', cancel);
      } else if (type === FRAME.declined) socket.destroy();
      else if (type === FRAME.stdout) process.stdout.write(payload);
      else if (type === FRAME.stderr) process.stderr.write(payload);
      else if (type === FRAME.exit) {
        exitCode = Number(payload.toString());
        socket.end();
      }
    });
    socket.on('close', () => {
      process.off('SIGINT', cancel).off('SIGTERM', cancel);
      if (exitCode !== undefined) resolve(exitCode);
      else if (!accepted) resolve(undefined);
      else {
        process.stderr.write(`wharf build: the build server stopped before the build finished (its log: ${address.log})\n`);
        resolve(1);
      }
    });
  });
}

/** Starts `wharf build-server` detached from this process, its terminal and its directory; its output goes to its log. */
function startServer(address: BuildServerAddress): void {
  // Loaded only here: the clients of a running server never pay for it.
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const log = openSync(address.log, 'w', 0o600);
  spawn(process.execPath, [process.argv[1]!, 'build-server'], { detached: true, stdio: ['ignore', log, log], cwd: '/' }).unref();
}
