/**
 * Where the search benchmark writes its storage: a tmpfs of its own when this process may mount one
 * (root). A million tags are four million small files and folders: /dev/shm allows too few inodes,
 * and on a disk the filesystem journal, not the index, would be timed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { onCleanup, removeDir, trackDir } from './cleanup.js';

export interface ScratchDirectory {
  readonly dir: string;
  /** What the report says the storage was on. */
  readonly filesystem: string;
  remove(): Promise<void>;
}

/** A fresh directory: under `parent` when given, else on its own tmpfs, else under the OS temp dir. */
export async function scratchDirectory(parent: string | undefined): Promise<ScratchDirectory> {
  if (parent === undefined) {
    const dir = await mkdtemp(join(os.tmpdir(), 'wharf-bench-search-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16g,nr_inodes=0,mode=0700', 'wharf-bench-search', dir], { stdio: 'ignore' });
      let mounted = true;
      const unmount = async () => {
        if (mounted) execFileSync('umount', [dir]);
        mounted = false;
      };
      onCleanup(unmount);
      trackDir(dir);
      return {
        dir,
        filesystem: 'a tmpfs of its own',
        remove: async () => {
          await unmount();
          await removeDir(dir);
        },
      };
    } catch {
      await rmdir(dir);
    }
  }
  const base = parent ?? os.tmpdir();
  const dir = await mkdtemp(join(base, 'wharf-bench-search-'));
  trackDir(dir);
  return { dir, filesystem: base, remove: () => removeDir(dir) };
}
