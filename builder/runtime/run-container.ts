import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isAlive } from '../build-root.js';
import { CommandError, runCommand } from '../run-command.js';
import { findMountStubs, removeMountStubs } from './mount-stubs.js';
import { containerHosts, containerResolvConf } from './network-files.js';
import { mountDestinations, ociSpec, type ContainerProcess } from './oci-spec.js';
import { openFilesLimit } from './open-files-limit.js';

/** Options of runContainer(). */
export interface RunContainerOptions extends ContainerProcess {
  /** The OCI runtime: a command looked up in PATH, or a path. Default: runc. */
  readonly runtime?: string;
  /** The container's root filesystem, a directory or an overlay mount point; the command's changes land in it. */
  readonly rootfs: string;
  /** Holds the bundles (`bundles/`) and the runtime's state (`runc/`); concurrent builds may share it. */
  readonly stateDir: string;
  /** The command's output as it arrives: each stream in order, no order between the two. */
  readonly onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Aborting kills the container; runContainer then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The runtime is missing, failed, or could not start the command (as opposed to the command failing). */
export class ContainerRuntimeError extends Error {
  override readonly name = 'ContainerRuntimeError';
}

const DEFAULT_RUNTIME = 'runc';

/** How often, and how many times, an abort asks the runtime to kill a container it may not have created yet. */
const KILL_INTERVAL_MS = 100;
const KILL_ATTEMPTS = 30;


/**
 * Runs one RUN's process in a new container over `rootfs` (`runc run`, no terminal, stdin empty) and
 * resolves with its exit code, 128+n when signal n killed it. The bundle, the runtime's state of the
 * container and the mount points runc had to create in `rootfs` are removed on every way out.
 */
export async function runContainer(options: RunContainerOptions): Promise<number> {
  options.signal?.throwIfAborted();
  const runtime = options.runtime ?? DEFAULT_RUNTIME;
  const bundles = join(options.stateDir, 'bundles');
  await mkdir(bundles, { recursive: true });
  // The container is named after its bundle: `<pid>-<random>` is unique and tells removeStaleContainers whose it is.
  const bundle = await mkdtemp(join(bundles, `${process.pid}-`));
  const id = basename(bundle);
  try {
    const paths = { rootfs: options.rootfs, hosts: join(bundle, 'hosts'), resolvConf: join(bundle, 'resolv.conf') };
    await writeFile(paths.hosts, containerHosts());
    // A host without a resolv.conf gives the container the public fallbacks.
    await writeFile(paths.resolvConf, containerResolvConf(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''), options.network));
    await writeFile(join(bundle, 'config.json'), JSON.stringify(ociSpec(options, paths, await openFilesLimit())));
    const stubs = await findMountStubs(options.rootfs, mountDestinations(options));
    try {
      return await runBundle(runtime, options, id, bundle);
    } finally {
      // `runc run` deletes the container when it exits normally; not when it was killed or failed to start.
      await runtimeCommand(runtime, options.stateDir, ['delete', '--force', id]);
      await removeMountStubs(options.rootfs, stubs);
    }
  } finally {
    await rm(bundle, { recursive: true, force: true });
  }
}

/** The containers this process is running, by ID: what killAllContainersSync kills. */
const running = new Map<string, { readonly runtime: string; readonly stateDir: string }>();

/**
 * Kills every container this process is running. For exits that skip `finally` blocks (Ctrl-C):
 * a container is in a session of its own and would otherwise run on, holding its overlay busy.
 */
export function killAllContainersSync(): void {
  for (const [id, { runtime, stateDir }] of running) spawnSync(runtime, ['--root', join(stateDir, 'runc'), 'kill', id, 'KILL'], { stdio: 'ignore' });
  running.clear();
}

/** Deletes the containers and bundles under `stateDir` left by wharf processes that died (kill -9, power loss); a live build's stay. */
export async function removeStaleContainers(stateDir: string, runtime = DEFAULT_RUNTIME): Promise<void> {
  const stale = (name: string) => {
    const owner = /^(\d+)-/.exec(name);
    return owner !== null && !isAlive(Number(owner[1]));
  };
  // The runtime's own directories, not `runc list`: that skips a container whose creation was cut short.
  for (const id of await listDirectory(join(stateDir, 'runc'))) if (stale(id)) await runtimeCommand(runtime, stateDir, ['delete', '--force', id]);
  const bundles = join(stateDir, 'bundles');
  for (const name of await listDirectory(bundles)) if (stale(name)) await rm(join(bundles, name), { recursive: true, force: true });
}

/** `runc run` of the bundle, output streamed, aborts turned into kills. */
async function runBundle(runtime: string, options: RunContainerOptions, id: string, bundle: string): Promise<number> {
  const pidFile = join(bundle, 'container.pid');
  const logFile = join(bundle, 'runtime.log');
  const args = ['--root', join(options.stateDir, 'runc'), '--log', logFile, '--log-format', 'json', 'run', '--bundle', bundle, '--pid-file', pidFile, id];
  options.signal?.throwIfAborted();
  const child = spawn(runtime, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => options.onOutput?.(chunk, 'stdout'));
  child.stderr!.on('data', (chunk: Buffer) => options.onOutput?.(chunk, 'stderr'));
  // 'close', not 'exit': the output has been delivered by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? runtimeMissing(runtime) : new ContainerRuntimeError(`${runtime} run failed: ${error.message}`)));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const settled = exited.then(
    () => undefined,
    () => undefined,
  );
  const abort = () => void killUntilSettled(runtime, options.stateDir, id, child, settled);
  options.signal?.addEventListener('abort', abort, { once: true });
  running.set(id, { runtime, stateDir: options.stateDir });
  let status: Awaited<typeof exited>;
  try {
    status = await exited;
  } finally {
    running.delete(id);
    options.signal?.removeEventListener('abort', abort);
  }
  options.signal?.throwIfAborted();
  // runc writes the pid file once the container has started: without it, runc itself failed.
  if (status.code !== 0 && !(await stat(pidFile).catch(() => undefined))) throw new ContainerRuntimeError(await startFailure(logFile, runtime, status.code));
  return status.code ?? 128 + constants.signals[status.signal!];
}

/**
 * Kills the container until `runc run` returns. Right after an abort runc may not have created
 * it yet, so this repeats; a runtime that does not return in time is killed itself.
 */
async function killUntilSettled(runtime: string, stateDir: string, id: string, child: ChildProcess, settled: Promise<void>): Promise<void> {
  let done = false;
  void settled.then(() => (done = true));
  for (let attempt = 1; !done; attempt++) {
    if (attempt > KILL_ATTEMPTS) child.kill('SIGKILL');
    await runtimeCommand(runtime, stateDir, ['kill', id, 'KILL']).catch(() => {});
    await Promise.race([settled, delay(KILL_INTERVAL_MS)]);
  }
}

/** The runtime's own error (its JSON log's last error line), for a container that never started. */
async function startFailure(logFile: string, runtime: string, code: number | null): Promise<string> {
  const lines = (await readFile(logFile, 'utf8').catch(() => '')).split('\n');
  for (const line of lines.reverse()) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) return entry.msg;
    } catch {
      // Not a JSON line: runc prints some errors before its logger is set up.
    }
  }
  return `${runtime} failed to start the container (exit code ${code})`;
}

/** Runs a runtime subcommand on the containers of `stateDir`. */
async function runtimeCommand(runtime: string, stateDir: string, args: readonly string[]): Promise<void> {
  try {
    await runCommand(runtime, ['--root', join(stateDir, 'runc'), ...args]);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    throw error.notFound ? runtimeMissing(runtime) : new ContainerRuntimeError(`${runtime} ${args.join(' ')} failed: ${error.stderr || error.message}`);
  }
}

/** A runtime that is not installed, saying what to install. */
function runtimeMissing(runtime: string): ContainerRuntimeError {
  return new ContainerRuntimeError(`RUN needs an OCI runtime: apt-get install runc, or pass --runtime (${runtime} was not found)`);
}

async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
