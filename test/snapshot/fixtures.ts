// Helpers for the snapshot tests: layers written by the real layer writer, and trees described
// path by path so a merged overlay view can be compared with another.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readXattrTree } from '../../builder/snapshot/xattrs.js';
import type { ContentStore } from '../../shared/content-store.js';
import type { Compression } from '../../shared/layer/compression.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { writeLayer } from '../../shared/layer/layer-writer.js';
import type { StoredLayer } from '../../shared/layer/stored-layer.js';

export const run = promisify(execFile);

const meta = { uid: 0, gid: 0, mtime: 1_700_000_000 };

export const dir = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ type: 'directory', path, ...meta, mode: 0o755, ...extra }) as LayerEntry;

export const file = (path: string, content: string | Buffer, extra: Partial<LayerEntry> = {}): LayerEntry => {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { type: 'file', path, ...meta, mode: 0o644, size: bytes.length, source: { content: bytes }, ...extra } as LayerEntry;
};

export const symlink = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, ...meta, mode: 0o777, target });

/** A layer of these entries in the store, as a build writes one. */
export function layerOf(store: ContentStore, entries: readonly LayerEntry[], compression: Compression = 'gzip'): Promise<StoredLayer> {
  return writeLayer(entries, store, { compression, format: 'oci' });
}

/**
 * Each path under `root` (not `root` itself) as one line of what a container sees: type, mode,
 * owner, mtime in seconds, then the content digest, link target or device numbers, the names it
 * shares its inode with, and the xattrs but trusted.*. With `metadata: false`, the type and
 * content only.
 */
export async function describeTree(root: string, { metadata = true } = {}): Promise<Map<string, string>> {
  const xattrs = await readXattrTree(root);
  const found: { path: string; stat: BigIntStats; detail: string }[] = [];
  const visit = async (relative: string): Promise<void> => {
    for (const name of (await readdir(join(root, relative))).sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const host = join(root, path);
      const stat = await lstat(host, { bigint: true });
      const detail =
        stat.isFile() ? createHash('sha256').update(await readFile(host)).digest('hex').slice(0, 16)
        : stat.isSymbolicLink() ? `-> ${await readlink(host)}`
        : stat.isCharacterDevice() || stat.isBlockDevice() ? `rdev ${stat.rdev}`
        : '';
      found.push({ path, stat, detail });
      if (stat.isDirectory()) await visit(path);
    }
  };
  await visit('');
  const namesOfInode = new Map<bigint, string[]>();
  for (const { path, stat } of found) if (stat.isFile()) namesOfInode.set(stat.ino, [...(namesOfInode.get(stat.ino) ?? []), path]);
  return new Map(
    found.map(({ path, stat, detail }) => {
      const kind =
        stat.isDirectory() ? 'dir'
        : stat.isFile() ? 'file'
        : stat.isSymbolicLink() ? 'symlink'
        : stat.isFIFO() ? 'fifo'
        : stat.isCharacterDevice() ? 'char'
        : 'other';
      const names = stat.isFile() && namesOfInode.get(stat.ino)!.length > 1 ? [`names ${namesOfInode.get(stat.ino)!.join(',')}`] : [];
      if (!metadata) return [path, [kind, detail, ...names].join(' ')];
      const attributes = Object.entries(xattrs.get(path) ?? {})
        .filter(([key]) => !key.startsWith('trusted.'))
        .map(([key, value]) => `${key}=${value.toString('hex')}`)
        .sort();
      const mode = (stat.mode & 0o7777n).toString(8);
      return [path, [kind, mode, `${stat.uid}:${stat.gid}`, stat.mtimeNs / 1_000_000_000n, detail, ...names, ...attributes].join(' ')];
    }),
  );
}

/** The lines where two descriptions differ, for a readable assertion message. */
export function differences(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>): string[] {
  const paths = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  return paths
    .filter((path) => expected.get(path) !== actual.get(path))
    .map((path) => `${path}: expected ${expected.get(path) ?? '(absent)'}, got ${actual.get(path) ?? '(absent)'}`);
}
