// Helpers for end-to-end tests that drive a real `wharf serve` process with real clients
// (the docker engine, skopeo). Everything here works offline.
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { onFreePort } from '../support/free-port.js';
import { spawnServer, type ExitStatus, type ServerProcess } from '../support/server-process.js';
import { storageEnv, storageSpecFor } from '../support/test-storage.js';
import { startWharf } from '../support/wharf-process.js';
import { busyboxRootfsEntries, tarOf } from './images.js';

/** The docker engine's own client; /usr/local/bin/docker may be a different one. */
export const DOCKER = '/usr/bin/docker';

/** The local image every docker test starts from (see testImage). */
export const TEST_IMAGE = 'wharf-test/busybox:latest';

/** A running registry under test. */
export interface RunningRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, the form image references use. */
  host: string;
  /** The storage directory (removed by stop() unless it was passed to startRegistry). */
  storage: string;
  /** The server's output so far (stdout and stderr, in arrival order). */
  logs(): string;
  /** Sends SIGTERM, waits for exit, removes a storage directory it created. Throws if the server did not exit cleanly. */
  stop(): Promise<void>;
}

/** Output of a finished command. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Options for run(). */
export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) the current environment. */
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is then closed. */
  input?: Buffer | string;
  /** Milliseconds; default 180 000. */
  timeout?: number;
}

/** A command that failed, with everything needed to see why. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} failed (${code}):\n--- stderr ---\n${stderr.trimEnd()}\n--- stdout ---\n${stdout.trimEnd()}`);
  }
}

/** Runs a command to completion; throws CommandError (with stderr) when it fails. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const shown = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd,
        env: { ...process.env, ...opts.env },
        timeout: opts.timeout ?? 180_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          const code = e.killed ? `killed after ${opts.timeout ?? 180_000} ms` : (e.code ?? null);
          reject(new CommandError(shown, code, stdout, stderr || e.message));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}); // the command may exit without reading; its exit status tells why
      child.stdin?.end(opts.input);
    }
  });
}

/** Whether `name` is an executable on PATH (or, if it contains a slash, at that path). */
export async function hasCommand(name: string): Promise<boolean> {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return true;
    } catch {
      // try the next directory
    }
  }
  return false;
}

let dockerProbe: Promise<string | undefined> | undefined;

/** Why the docker engine cannot be used, or undefined when `/usr/bin/docker info` succeeds. */
export function dockerUnavailableReason(): Promise<string | undefined> {
  dockerProbe ??= (async () => {
    if (!(await hasCommand(DOCKER))) return `${DOCKER} not installed`;
    try {
      await run(DOCKER, ['info'], { timeout: 30_000 });
      return undefined;
    } catch (err) {
      // `docker info` prints the server's error among its client section, on stdout.
      const lines = err instanceof CommandError ? `${err.stdout}\n${err.stderr}`.split('\n').map((l) => l.trim()) : [String(err)];
      const detail = lines.find((l) => /^ERROR:/.test(l)) ?? lines.find((l) => l.length > 0) ?? 'no output';
      return `docker engine not available (${DOCKER} info failed: ${detail})`;
    }
  })();
  return dockerProbe;
}

/** Whether `/usr/bin/docker info` succeeds. */
export async function dockerAvailable(): Promise<boolean> {
  return (await dockerUnavailableReason()) === undefined;
}

/** Runs /usr/bin/docker with the given arguments. */
export function docker(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(DOCKER, args, opts);
}

/** Whether the docker engine has an image with this reference or ID. */
export async function dockerImageExists(ref: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Imports a single-layer image made of the busybox root filesystem plus `extraFiles`
 * (path without leading slash → content) into the docker engine as `ref`; `changes` are more
 * Dockerfile instructions for its config (`LABEL k=v`).
 */
export async function importBusyboxImage(ref: string, extraFiles: Record<string, string | Buffer> = {}, changes: readonly string[] = []): Promise<void> {
  const entries = await busyboxRootfsEntries();
  for (const [name, content] of Object.entries(extraFiles)) entries.push({ type: 'file', name, content });
  const changeArgs = ['CMD ["/bin/sh"]', ...changes].flatMap((change) => ['--change', change]);
  await docker(['import', ...changeArgs, '-', ref], { input: await tarOf(entries) });
}

let testImageReady: Promise<string> | undefined;

/**
 * Makes sure the docker engine has `wharf-test/busybox:latest` (a static busybox with
 * applet symlinks, imported from a tar: no Docker Hub needed) and returns its name.
 */
export function testImage(): Promise<string> {
  testImageReady ??= (async () => {
    if (!(await dockerImageExists(TEST_IMAGE))) await importBusyboxImage(TEST_IMAGE);
    return TEST_IMAGE;
  })();
  testImageReady.catch(() => {
    testImageReady = undefined; // let a later call retry
  });
  return testImageReady;
}

/** Options of startRegistry(). */
export interface StartOptions {
  /** Serve this existing storage directory (e.g. a stopped registry's) and leave it in place on stop(). */
  storage?: string;
  /** Which server: wharf (default, or as WHARF_E2E_REGISTRY says) or CNCF distribution, for a test about talking to it. */
  implementation?: 'wharf' | 'distribution';
  /** More `wharf serve` arguments (authentication settings); wharf only. */
  args?: readonly string[];
}

/**
 * Starts `wharf serve` on a free loopback port with a fresh storage directory (on S3, with
 * WHARF_TEST_STORAGE=s3, a bucket named after it) and waits until `GET /v2/` answers.
 *
 * WHARF_E2E_REGISTRY=distribution runs the reference registry (Debian's docker-registry)
 * instead, to tell a test bug from a server bug. WHARF_E2E_LOG=FILE appends server output
 * to FILE; WHARF_E2E_VERBOSE=1 copies it to stderr.
 */
export async function startRegistry(options: StartOptions = {}): Promise<RunningRegistry> {
  const storage = options.storage ?? (await mkdtemp(join(tmpdir(), 'wharf-e2e-')));
  const cleanup = async () => {
    if (options.storage === undefined) await rm(storage, { recursive: true, force: true });
  };
  const reference = (options.implementation ?? (process.env.WHARF_E2E_REGISTRY === 'distribution' ? 'distribution' : 'wharf')) === 'distribution';
  let server: ServerProcess;
  try {
    // No --log-level: the server's default (one line per request) is what the logs on failure show.
    server = reference
      ? await startDistribution(storage)
      : await startWharf({ storage: await storageSpecFor(storage), env: storageEnv(), logLevel: null, onOutput: copyOutput, args: options.args });
  } catch (err) {
    await cleanup();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      let status: ExitStatus;
      try {
        status = await server.stop();
      } finally {
        await cleanup();
      }
      // The reference registry dies of the signal; wharf promises a clean exit.
      const clean = status.code === 0 || (reference && status.signal === 'SIGTERM');
      if (!clean) {
        throw new Error(`registry did not exit cleanly on SIGTERM (code ${status.code}, signal ${status.signal}); last output:\n${server.output().slice(-4000)}`);
      }
    })();
    return stopping;
  };

  return { url: server.url, host: server.host, storage, logs: () => server.output(), stop };
}

/** CNCF distribution serving `storage`/data, with its config file in `storage`. */
function startDistribution(storage: string): Promise<ServerProcess> {
  return onFreePort(async (port) => {
    const config = join(storage, 'config.yml');
    await writeFile(config, [
      'version: 0.1',
      'log: { level: info }',
      `storage: { filesystem: { rootdirectory: ${join(storage, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      '',
    ].join('\n'));
    const server = spawnServer({ name: 'docker-registry', command: 'docker-registry', args: ['serve', config], port, onOutput: copyOutput });
    await server.ready();
    return server;
  });
}

/** Copies server output where WHARF_E2E_LOG and WHARF_E2E_VERBOSE ask for it. */
function copyOutput(text: string): void {
  const logFile = process.env.WHARF_E2E_LOG;
  if (logFile) appendFileSync(logFile, text);
  if (process.env.WHARF_E2E_VERBOSE === '1') process.stderr.write(text);
}

/** Runs `fn`; if it throws, appends the tail of the registry's output to the error. */
export async function withServerLogs<T>(registry: RunningRegistry, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message += `\n--- registry output (tail) ---\n${registry.logs().slice(-6000)}`;
    throw err;
  }
}

/** The manifest digest that `docker push` or `docker pull` printed. */
export function digestFromOutput(output: string): string {
  const match = /digest: (sha256:[a-f0-9]{64})/i.exec(output);
  if (!match) throw new Error(`no digest in output:\n${output}`);
  return match[1];
}
