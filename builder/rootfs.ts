import { createHash } from 'node:crypto';
import { chmod, lchown, link, lstat, mkdir, open, readdir, rename, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Header } from 'tar-stream';
import type { Layer } from '../shared/image.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX, cleanEntryPath, entryMetadata, hostPathOf, readLayerTar, resolveHostFolder } from './layer-reader.js';

/** Unpackings under way in this process, by destination directory. */
const unpacking = new Map<string, Promise<string>>();

/**
 * A stage's filesystem as a directory: its layers applied in order, whiteouts honoured, kept in
 * the build root by the chain of layer digests so it is unpacked once. `COPY --from` reads files
 * from it and `--chown` reads its /etc/passwd. (RUN mounts per-layer snapshots with overlayfs.)
 */
export function materializeRootfs(layers: readonly Layer[], cacheDir: string): Promise<string> {
  const chain = createHash('sha256');
  for (const layer of layers) chain.update(`${layer.diffId}\n`);
  const id = chain.digest('hex');
  const destination = join(cacheDir, id);
  // Stages built at once often need the same chain (their common base): they share one unpacking,
  // which would otherwise delete the other's half-written directory.
  let pending = unpacking.get(destination);
  if (!pending) {
    pending = unpackRootfs(layers, cacheDir, id, destination).finally(() => unpacking.delete(destination));
    unpacking.set(destination, pending);
  }
  return pending;
}

/** Unpacks the chain into a temporary directory and renames it to `destination` when complete. */
async function unpackRootfs(layers: readonly Layer[], cacheDir: string, id: string, destination: string): Promise<string> {
  if (await lstat(destination).catch(() => undefined)) return destination;
  const building = join(cacheDir, `${process.pid}-partial-${id}`);
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    for (const layer of layers) await applyLayer(layer, building);
    await rename(building, destination);
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
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
