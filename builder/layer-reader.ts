// Reading layer tars to unpack them on the host: rootfs.ts applies a chain of layers into one
// merged root, snapshot/ unpacks each layer alone in overlayfs lower-dir form.
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, type Extract, type Header } from 'tar-stream';
import type { Layer } from '../shared/image.js';
import { compressionOfMediaType, createDecompressor } from '../shared/layer/compression.js';
import { resolveInRoot } from './context/resolve-in-root.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** Raised for a layer tar entry whose name climbs out of the image root (`../x`). */
export class UnsafeLayerEntryError extends Error {}

/** Extended attributes by name, raw values (`security.capability` is binary). */
export type Xattrs = Record<string, Buffer>;

/** What readLayerTar() hands over for each entry; `content` is a file's bytes, to read before the next entry. */
export type LayerTarEntryHandler = (header: Header, content: AsyncIterable<Buffer>, xattrs: Xattrs) => Promise<void>;

/**
 * Calls `onEntry` for each entry of the layer's tar, in order, decompressing as its media type says.
 * The xattrs are the entry's PAX `SCHILY.xattr.*` records, byte for byte.
 */
export async function readLayerTar(layer: Layer, onEntry: LayerTarEntryHandler): Promise<void> {
  const tar = extract();
  const takeXattrs = keepRawXattrs(tar);
  const decompressor = await createDecompressor(compressionOfMediaType(layer.descriptor.mediaType));
  const feeding = pipeline(await layer.open(), decompressor, tar);
  // Entries are consumed in order; a failing entry destroys the extractor, which ends the feeding too.
  try {
    for await (const entry of tar) await onEntry(entry.header, entry as AsyncIterable<Buffer>, takeXattrs());
  } catch (error) {
    tar.destroy(error as Error);
    await feeding.catch(() => {});
    throw error;
  }
  await feeding;
}

/** tar-stream's internals that keepRawXattrs() wraps (tar-stream is pinned; the snapshot tests cover this). */
interface LongHeaderDecoding {
  readonly _header: { readonly type: string };
  _decodeLongHeader(raw: Buffer): void;
}

/**
 * tar-stream decodes PAX values as UTF-8, which garbles binary xattrs (a capability set with
 * CAP_SETUID has a 0x80 byte): its PAX header decoding is wrapped to keep the raw records. The
 * returned function gives the xattrs of the entry just emitted; the extractor decodes no further
 * header until the iterator asks for the next entry.
 */
function keepRawXattrs(tar: Extract): () => Xattrs {
  const decoding = tar as unknown as LongHeaderDecoding;
  const decode = decoding._decodeLongHeader;
  if (typeof decode !== 'function') throw new Error('this tar-stream version cannot be read with raw PAX xattrs (expected tar-stream 3.2)');
  let global: Xattrs = {};
  let next: Xattrs = {};
  decoding._decodeLongHeader = function (this: LongHeaderDecoding, raw: Buffer): void {
    if (this._header.type === 'pax-global-header') global = paxXattrs(raw);
    if (this._header.type === 'pax-header') next = paxXattrs(raw);
    decode.call(this, raw);
  };
  return () => {
    const xattrs = { ...global, ...next };
    next = {};
    return xattrs;
  };
}

/** The `SCHILY.xattr.<name>` records of a PAX header body (`"<length> <key>=<value>\n"` each). */
function paxXattrs(body: Buffer): Xattrs {
  const prefix = 'SCHILY.xattr.';
  const xattrs: Xattrs = {};
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(0x20, at);
    const length = Number(body.subarray(at, space).toString('latin1'));
    if (space < 0 || !Number.isSafeInteger(length) || length <= space - at) break;
    const record = body.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    const key = record.subarray(0, equals).toString('utf8');
    if (equals > 0 && key.startsWith(prefix)) xattrs[key.slice(prefix.length)] = Buffer.from(record.subarray(equals + 1));
    at += length;
  }
  return xattrs;
}

/** Permission bits, owner and mtime (seconds, maybe fractional) of an entry, PAX records first. */
export function entryMetadata(header: Header): { mode: number; uid: number; gid: number; mtime: number } {
  const pax = (header.pax ?? {}) as Record<string, string | undefined>;
  return {
    mode: (header.mode ?? 0o644) & 0o7777,
    uid: paxNumber(pax.uid) ?? header.uid ?? 0,
    gid: paxNumber(pax.gid) ?? header.gid ?? 0,
    mtime: paxNumber(pax.mtime) ?? (header.mtime ? header.mtime.getTime() / 1000 : 0),
  };
}

function paxNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?[0-9]+(\.[0-9]*)?$/.test(value)) return undefined;
  return Number(value);
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
