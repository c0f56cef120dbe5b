import { readdirSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The build root's temporary places: the content store's temp files, COPY/ADD/RUN scratch dirs,
 * half-unpacked root filesystems, layer snapshots and cache mounts. Every temporary is named `<pid>-…`, so a
 * build removes its own when interrupted and those of processes that died (kill -9, power loss)
 * when it starts.
 */
export function temporaryDirectories(root: string): string[] {
  return [join(root, 'content', 'tmp'), join(root, 'tmp'), join(root, 'rootfs'), join(root, 'snapshots'), join(root, 'cache-mounts')];
}

/** A new scratch directory `<root>/tmp/<pid>-<purpose>-XXXXXX`: removed by the caller, or after a crash by removeTemporaries. */
export async function makeScratchDirectory(root: string, purpose: string): Promise<string> {
  const scratch = join(root, 'tmp');
  await mkdir(scratch, { recursive: true });
  return mkdtemp(join(scratch, `${process.pid}-${purpose}-`));
}

/** Removes temporaries of `pids`, or (without) of every process no longer alive. Synchronous: it runs in signal handlers. */
export function removeTemporaries(root: string, pids?: ReadonlySet<number>): void {
  for (const directory of temporaryDirectories(root)) {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = /^(\d+)-/.exec(name);
      if (!match) continue;
      const pid = Number(match[1]);
      if (pids ? pids.has(pid) : !isAlive(pid)) rmSync(join(directory, name), { recursive: true, force: true });
    }
  }
}

/** Whether process `pid` exists (EPERM: it does, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
