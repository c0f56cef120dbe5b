/**
 * Everything a benchmark must undo however it ends: server processes, wrk, temporary directories,
 * and state kept elsewhere (the build benchmark's images and build cache in dockerd).
 * Normal completion, a thrown error, SIGINT/SIGTERM and a plain process exit all go through here.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const tasks = new Set<() => Promise<void>>();

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function untrackChild(child: ChildProcess): void {
  children.delete(child);
}

export function trackDir(dir: string): void {
  dirs.add(dir);
}

/** Runs `task` on cleanup, after processes are stopped and before directories are removed (not on a bare exit). */
export function onCleanup(task: () => Promise<void>): void {
  tasks.add(task);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Runs `fn` in the new directory `dir`, which is removed afterwards however `fn` ends (or by cleanup if the process is stopped meanwhile). */
export async function inTemporaryDir<T>(dir: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(dir);
  trackDir(dir);
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL if the process has not exited within graceMs. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!running(child)) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const outcome = await Promise.race([exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout' && running(child)) {
    child.kill('SIGKILL');
    await exited;
  }
  children.delete(child);
}

let cleaning: Promise<void> | undefined;

/** Stops every tracked process, runs the cleanup tasks and removes every tracked directory. Safe to call more than once. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((child) => stopChild(child, 5_000).catch(() => undefined)));
    for (const task of [...tasks]) await task().catch((err: unknown) => process.stderr.write(`bench: cleanup: ${err instanceof Error ? err.message : String(err)}\n`));
    for (const dir of [...dirs]) await removeDir(dir).catch(() => undefined);
  })();
  return cleaning;
}

/** Last resort when the process exits without having awaited cleanupAll (synchronous only). */
function cleanupSync(): void {
  for (const child of children) {
    if (running(child)) child.kill('SIGKILL');
  }
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // nothing more can be done while exiting
    }
  }
}

/**
 * Runs a benchmark's `main` and then cleans up; if it throws, prints `NAME failed: …` with the
 * stack, cleans up and sets a failing exit code.
 */
export function runBenchmark(name: string, main: () => Promise<void>): void {
  main()
    .then(() => cleanupAll())
    .catch(async (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await cleanupAll();
      process.exitCode = 1;
    });
}

export function installCleanupHandlers(): void {
  process.once('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal} received, stopping servers and removing temporary files…\n`);
      void cleanupAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
