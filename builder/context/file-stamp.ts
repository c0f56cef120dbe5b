import type { Stats } from 'node:fs';

/**
 * What changes whenever a file's content does: size, mtime and ctime (sub-millisecond), inode and
 * device, as BuildKit's checksum cache keys files. Equal stamps let a cache reuse a digest without
 * reading the file; ctime cannot be set back, so a rewrite that restores the mtime still shows.
 */
export function fileStamp(stats: Stats): string {
  return `${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}:${stats.ino}:${stats.dev}`;
}
