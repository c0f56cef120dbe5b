// Reading layer tars to unpack them on the host: rootfs.ts applies a chain of layers into one
// merged root, snapshot/ unpacks each layer alone in overlayfs lower-dir form.
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import type { Layer } from '../shared/image.js';
import { compressionOfMediaType, createDecompressor } from '../shared/layer/compression.js';
import { resolveInRoot } from './context/resolve-in-root.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** Raised for a layer tar entry whose name climbs out of the image root (`../x`). */
export class UnsafeLayerEntryError extends Error {}

/** Calls `onEntry` for each entry of the layer's tar, in order, decompressing as its media type says. */
export async function readLayerTar(layer: Layer, onEntry: (header: Header, content: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const tar = extract();
  const decompressor = await createDecompressor(compressionOfMediaType(layer.descriptor.mediaType));
  const feeding = pipeline(await layer.open(), decompressor, tar);
  // Entries are consumed in order; a failing entry destroys the extractor, which ends the feeding too.
  try {
    for await (const entry of tar) await onEntry(entry.header, entry as AsyncIterable<Buffer>);
  } catch (error) {
    tar.destroy(error as Error);
    await feeding.catch(() => {});
    throw error;
  }
  await feeding;
}

/** The entry name as a root-relative path; throws for names that climb out of the root. */
export function cleanEntryPath(name: string): string {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new UnsafeLayerEntryError(`layer entry "${name}" points outside the image root`);
    parts.push(part);
  }
  return parts.join('/');
}

/**
 * The host path of a root-relative folder, following symlinks as the container would see them but
 * never leaving the root: an absolute link target restarts at the root and `..` stops there.
 */
export async function resolveHostFolder(root: string, relativeDir: string): Promise<string> {
  const { resolved } = await resolveInRoot(
    relativeDir,
    async ({ path }) => {
      const candidate = join(root, path);
      const info = await lstat(candidate).catch(() => undefined);
      return info?.isSymbolicLink() ? { follow: await readlink(candidate) } : 'enter';
    },
    () => new UnsafeLayerEntryError(`too many symlinks resolving "${relativeDir}"`),
  );
  return join(root, ...resolved);
}

/** The host path of root-relative `path`: its folder resolved as resolveHostFolder() does, its name as is. */
export async function hostPathOf(root: string, path: string): Promise<string> {
  const slash = path.lastIndexOf('/');
  return join(await resolveHostFolder(root, slash < 0 ? '' : path.slice(0, slash)), path.slice(slash + 1));
}
