import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Directories being made in this process, by path. */
const making = new Map<string, Promise<void>>();

/**
 * Makes `directory` unless it exists: `fill` writes into an empty `<pid>-partial-NAME` beside it,
 * renamed into place once complete, so nobody sees half a directory and a dead process's partial
 * one is removed like any `<pid>-` temporary of the build root. Callers in this process wanting the
 * same directory share one making (stages built at once often want the same base); another
 * process making it meanwhile is as good.
 */
export function makeDirectoryOnce(directory: string, fill: (building: string) => Promise<void>): Promise<void> {
  let pending = making.get(directory);
  if (!pending) {
    pending = make(directory, fill).finally(() => making.delete(directory));
    making.set(directory, pending);
  }
  return pending;
}

async function make(directory: string, fill: (building: string) => Promise<void>): Promise<void> {
  if (await lstat(directory).catch(() => undefined)) return;
  const building = join(dirname(directory), `${process.pid}-partial-${basename(directory)}`);
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    await fill(building);
    await rename(building, directory).catch((error: NodeJS.ErrnoException) => {
      if (!['EEXIST', 'ENOTEMPTY'].includes(error.code ?? '')) throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}
