import { chmod, lchown, link, lstat, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Header } from 'tar-stream';
import type { Layer } from '../shared/image.js';
import { chainIds } from './snapshot/layer-snapshots.js';
import { makeDirectoryOnce } from './directory-once.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX, cleanEntryPath, entryMetadata, hostPathOf, readLayerTar, resolveHostFolder } from './layer-reader.js';

/**
 * A stage's filesystem as a directory: its layers applied in order, whiteouts honoured, kept in
 * the build root by chain ID so it is unpacked once. Where overlayfs cannot be mounted (not root),
 * COPY reads stages and images from it (see snapshot/rootfs-views.ts).
 */
export async function materializeRootfs(layers: readonly Layer[], cacheDir: string): Promise<string> {
  const id = layers.length === 0 ? 'empty' : chainIds(layers).at(-1)!.replace(':', '-');
  const destination = join(cacheDir, id);
  await makeDirectoryOnce(destination, async (building) => {
    for (const layer of layers) await applyLayer(layer, building);
  });
  return destination;
}

/** Applies one layer tar on top of `root`, as a container runtime would. */
async function applyLayer(layer: Layer, root: string): Promise<void> {
  const hardlinks: [string, string][] = [];
  const directoryTimes: [string, number][] = [];
  await readLayerTar(layer, (header, content) => applyEntry(root, header, content, hardlinks, directoryTimes));
  for (const [path, target] of hardlinks) {
    await rm(path, { force: true, recursive: true });
    await link(target, path);
  }
  // Directory times last: writing inside a directory changes its mtime.
  for (const [path, time] of directoryTimes.reverse()) await utimes(path, time, time);
}

async function applyEntry(
  root: string,
  header: Header,
  content: AsyncIterable<Buffer>,
  hardlinks: [string, string][],
  directoryTimes: [string, number][],
): Promise<void> {
  const relative = cleanEntryPath(header.name);
  if (relative === '') return;
  const base = relative.slice(relative.lastIndexOf('/') + 1);
  const folder = await resolveHostFolder(root, relative.includes('/') ? relative.slice(0, relative.lastIndexOf('/')) : '');
  const path = join(folder, base);
  if (base === OPAQUE_MARKER) {
    for (const child of await readdir(folder).catch(() => [] as string[])) await rm(join(folder, child), { recursive: true, force: true });
    return;
  }
  if (base.startsWith(WHITEOUT_PREFIX)) {
    await rm(join(folder, base.slice(WHITEOUT_PREFIX.length)), { recursive: true, force: true });
    return;
  }
  await mkdir(folder, { recursive: true });
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !(existing.isDirectory() && header.type === 'directory')) await rm(path, { recursive: true, force: true });
  const { mode, uid, gid, mtime } = entryMetadata(header);
  switch (header.type) {
    case 'directory':
      await mkdir(path, { recursive: true });
      await lchown(path, uid, gid).catch(() => {});
      await chmod(path, mode);
      directoryTimes.push([path, mtime]);
      break;
    case 'symlink':
      await symlink(header.linkname ?? '', path);
      await lchown(path, uid, gid).catch(() => {});
      break;
    case 'link':
      hardlinks.push([path, await hostPathOf(root, cleanEntryPath(header.linkname ?? ''))]);
      break;
    case 'file':
    case 'contiguous-file': {
      const file = await open(path, 'w', mode);
      try {
        for await (const chunk of content) await file.write(chunk);
      } finally {
        await file.close();
      }
      // Owner before mode: chown clears setuid and setgid bits.
      await lchown(path, uid, gid).catch(() => {});
      await chmod(path, mode);
      await utimes(path, mtime, mtime);
      break;
    }
    default:
      // Devices and fifos need privileges COPY --from never needs; their names are enough.
      break;
  }
}
