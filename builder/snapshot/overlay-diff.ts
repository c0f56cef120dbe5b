import type { BigIntStats } from 'node:fs';
import { lstatSync, readdirSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import type { Xattrs } from '../layer-reader.js';
import { OPAQUE_XATTR } from './lower-dir.js';
import { layerXattrs, readXattrTree } from './xattrs.js';

/** Raised when an upper dir holds overlayfs state a layer cannot express (a redirect or a metacopy). */
export class OverlayDiffError extends Error {}

/** One name found in the upper dir, with its lstat. */
interface Found {
  readonly path: string;
  readonly stat: BigIntStats;
}

/**
 * The change set a RUN left in its overlay upper dir (unmounted), as layer entries for the layer
 * writer: what the upper dir holds, with whiteouts (0:0 character devices) as `whiteout` entries
 * and opaque directories as a directory plus an `opaque` entry. Directories overlayfs copied up
 * because something inside changed are entries too, as BuildKit writes them. Files sharing an
 * inode become one file and hardlinks to it; xattrs are carried but `trusted.*`. Mtimes are the
 * files' (whole seconds): writeLayer clamps them to SOURCE_DATE_EPOCH when asked.
 */
export async function overlayDiff(upperDir: string): Promise<LayerEntry[]> {
  // getfattr runs while this process walks the tree.
  const xattrs = readXattrTree(upperDir);
  let found: Found[];
  try {
    found = walk(upperDir, '');
  } catch (error) {
    await xattrs.catch(() => {});
    throw error;
  }
  const xattrTree = await xattrs;
  const entries: LayerEntry[] = [];
  const inodes = new Map<bigint, Found[]>();
  for (const item of found) {
    const { path, stat } = item;
    const all = xattrTree.get(path) ?? {};
    for (const state of ['trusted.overlay.redirect', 'trusted.overlay.metacopy']) {
      if (state in all) throw new OverlayDiffError(`${join(upperDir, path)} has ${state}: mount overlays with redirect_dir=off,metacopy=off`);
    }
    const metadata = metadataOf(item, all);
    if (stat.isDirectory()) {
      entries.push({ type: 'directory', ...metadata });
      if (all[OPAQUE_XATTR]?.toString() === 'y') entries.push({ type: 'opaque', path });
    } else if (stat.isCharacterDevice() && stat.rdev === 0n) {
      entries.push({ type: 'whiteout', path });
    } else if (stat.isFile() && stat.nlink > 1n) {
      inodes.set(stat.ino, [...(inodes.get(stat.ino) ?? []), item]);
    } else if (stat.isFile()) {
      entries.push({ type: 'file', ...metadata, size: Number(stat.size), source: { file: join(upperDir, path) } });
    } else if (stat.isSymbolicLink()) {
      entries.push({ type: 'symlink', ...metadata, target: await readlink(join(upperDir, path)) });
    } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
      entries.push({ type: stat.isCharacterDevice() ? 'char-device' : 'block-device', ...metadata, ...deviceNumbers(stat.rdev) });
    } else if (stat.isFIFO()) {
      entries.push({ type: 'fifo', ...metadata });
    }
    // Sockets are left out: a tar cannot hold one (BuildKit skips them too).
  }
  // Names of one inode: the first by path is the file, the others hardlinks to it (whatever the
  // order, the writer puts the bytes at the name that comes first in the tar).
  for (const group of inodes.values()) {
    const [first, ...others] = group.sort((a, b) => (a.path < b.path ? -1 : 1));
    const shared = metadataOf(first!, xattrTree.get(first!.path) ?? {});
    entries.push({ type: 'file', ...shared, size: Number(first!.stat.size), source: { file: join(upperDir, first!.path) } });
    for (const other of others) entries.push({ type: 'hardlink', ...shared, path: other.path, target: first!.path });
  }
  return entries;
}

/** Path, permissions, owner, mtime (whole seconds) and the xattrs a layer carries. */
function metadataOf({ path, stat }: Found, all: Xattrs) {
  const xattrs = layerXattrs(all);
  return {
    path,
    mode: Number(stat.mode) & 0o7777,
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    mtime: Number(stat.mtimeNs / 1_000_000_000n),
    ...(xattrs ? { xattrs } : {}),
  };
}

/** Linux's dev_t split into major and minor (glibc's gnu_dev_major / gnu_dev_minor). */
function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/**
 * Every name below `relative` in the upper dir, with its lstat. Synchronous: the tree was just
 * written, its metadata is cached, and a thread-pool round trip per name cost 3x the time (20,000
 * names: 0.13 s against 0.40 s).
 */
function walk(upperDir: string, relative: string, found: Found[] = []): Found[] {
  for (const name of readdirSync(join(upperDir, relative))) {
    const path = relative === '' ? name : `${relative}/${name}`;
    const stat = lstatSync(join(upperDir, path), { bigint: true });
    found.push({ path, stat });
    if (stat.isDirectory()) walk(upperDir, path, found);
  }
  return found;
}
