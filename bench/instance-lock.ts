/**
 * One benchmark of a kind at a time on this machine: two at once would time each other, and the
 * build benchmark's cache bookkeeping in dockerd could take the other's build-cache records for its own.
 */
import { readFileSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock `name` (a file holding our pid in the OS temp dir) for the life of this process, or
 * throws saying which process holds it. A lock left by a process that no longer runs is taken over.
 */
export async function holdInstanceLock(name: string): Promise<void> {
  const path = join(tmpdir(), `${name}.lock`);
  try {
    await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (alive(holder)) throw new Error(`another ${name} (pid ${holder}) is running on this machine: two at once would measure each other (lock ${path})`);
    await writeFile(path, `${process.pid}\n`);
  }
  process.once('exit', () => {
    try {
      if (Number(readFileSync(path, 'utf8').trim()) === process.pid) rmSync(path, { force: true });
    } catch {
      // already gone
    }
  });
}
