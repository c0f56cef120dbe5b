import { createReadStream, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { FileEntry, HardlinkEntry, LayerEntry } from './layer-entry.js';
import { TarFormatError, tarStream, validateRecord, type TarRecord } from './tar-format.js';

/** Options of layerTar(). */
export interface LayerTarOptions {
  /** SOURCE_DATE_EPOCH: no entry's mtime is later than this (seconds). */
  readonly sourceDateEpoch?: number;
}

/** Raised when layer entries cannot form a valid layer (bad path, duplicate, dangling hardlink, …). */
export class LayerEntryError extends Error {}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

function validatePath(path: string): void {
  const problem =
    path.length === 0 ? 'is empty'
    : path.startsWith('/') ? 'starts with "/"'
    : path.endsWith('/') ? 'ends with "/"'
    : path.includes('\0') ? 'contains NUL'
    : path.split('/').some((c) => c === '' || c === '.' || c === '..') ? 'has an empty, "." or ".." component'
    : path.split('/').some((c) => c.startsWith(WHITEOUT_PREFIX)) ? `has a component starting with "${WHITEOUT_PREFIX}", which marks whiteouts`
    : undefined;
  if (problem) throw new LayerEntryError(`layer entry path "${path}" ${problem}`);
}

/** The name an entry has in the tar, without a directory's trailing '/'. */
function tarPath(entry: LayerEntry): string {
  if (entry.type === 'opaque') return `${entry.path}/${OPAQUE_MARKER}`;
  if (entry.type === 'whiteout') {
    const slash = entry.path.lastIndexOf('/');
    return `${entry.path.slice(0, slash + 1)}${WHITEOUT_PREFIX}${entry.path.slice(slash + 1)}`;
  }
  return entry.path;
}

/**
 * Orders paths component by component, each compared as bytes: `a`, `a/b`, `a-b`. That is byte
 * order with '/' sorting before every other byte, so a directory comes right before its contents.
 */
function sortKey(path: string): Buffer {
  return Buffer.from(path.replaceAll('/', '\0'), 'utf8');
}

/** Files up to this size are read whole, at once; bigger ones streamed. */
const WHOLE_READ_MAX_BYTES = 256 * 1024;

function fileBody(entry: FileEntry): TarRecord['body'] {
  const source = entry.source;
  if ('content' in source) {
    if (source.content.length !== entry.size) {
      throw new LayerEntryError(`layer entry "${entry.path}": content is ${source.content.length} bytes, size says ${entry.size}`);
    }
    return source.content;
  }
  // Small files are read whole, synchronously: a layer's files were just written or hashed, so they
  // are in the page cache, where one readFileSync costs far less than the thread pool's four round
  // trips (open, fstat, read, close); 20,000 files tar in 0.65 s instead of 0.94 s. Big ones are
  // streamed in 1 MiB reads. No `end`: a file that grew must show as the wrong length, not be cut silently.
  if (entry.size <= WHOLE_READ_MAX_BYTES) return () => readFileSync(source.file);
  return () => createReadStream(source.file, { highWaterMark: 1024 * 1024 });
}

/**
 * The tar records of a layer, in the order they are written: sorted by path, with each group of
 * hardlinks written as a file at its first name and links from the others to it (a tar reader
 * needs the file before its links, whatever order the names sort in).
 */
export function layerTarRecords(entries: readonly LayerEntry[], options: LayerTarOptions = {}): TarRecord[] {
  const epoch = options.sourceDateEpoch;
  if (epoch !== undefined && (!Number.isFinite(epoch) || epoch < 0)) {
    throw new LayerEntryError(`sourceDateEpoch must be a non-negative number of seconds, got ${epoch}`);
  }
  const clamp = (mtime: number): number => {
    const seconds = Math.max(0, Math.floor(mtime));
    return epoch === undefined ? seconds : Math.min(seconds, Math.floor(epoch));
  };

  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    validatePath(entry.path);
    const name = tarPath(entry);
    if (byPath.has(name)) throw new LayerEntryError(`layer has two entries for "${name}"`);
    byPath.set(name, entry);
  }
  // An overlay upper directory cannot hold both a whiteout and an entry of the same name.
  for (const entry of entries) {
    if (entry.type === 'whiteout' && byPath.has(entry.path)) {
      throw new LayerEntryError(`layer both deletes and writes "${entry.path}"`);
    }
  }

  // Each hardlink resolves (through other hardlinks) to a file of this layer.
  const rootOf = new Map<string, FileEntry>();
  const resolve = (link: HardlinkEntry): FileEntry => {
    const seen = new Set<string>([link.path]);
    let target = byPath.get(link.target);
    while (target?.type === 'hardlink' && !seen.has(target.path)) {
      seen.add(target.path);
      target = byPath.get(target.target);
    }
    if (target?.type !== 'file') {
      throw new LayerEntryError(`hardlink "${link.path}" points at "${link.target}", which is not a regular file of this layer`);
    }
    return target;
  };
  const linked = new Set<FileEntry>();
  for (const entry of entries) {
    if (entry.type !== 'hardlink') continue;
    const root = resolve(entry);
    rootOf.set(entry.path, root);
    linked.add(root);
  }

  const sorted = [...byPath.entries()]
    .map(([name, entry]) => ({ name, entry, key: sortKey(name) }))
    .sort((a, b) => Buffer.compare(a.key, b.key));

  // The first name of a hardlink group in tar order carries the bytes.
  const firstName = new Map<FileEntry, string>();
  for (const { name, entry } of sorted) {
    const root = entry.type === 'file' ? entry : entry.type === 'hardlink' ? rootOf.get(entry.path)! : undefined;
    if (root && linked.has(root) && !firstName.has(root)) firstName.set(root, name);
  }

  const records = sorted.map(({ name, entry }): TarRecord => {
    switch (entry.type) {
      case 'whiteout':
      case 'opaque':
        // As containerd writes them: empty regular files owned by root, mode 0.
        return { name, type: 'file', mode: 0, uid: 0, gid: 0, mtime: clamp(0), size: 0 };
      case 'directory':
        return { name: `${name}/`, type: 'directory', ...metadata(entry), size: 0 };
      case 'symlink':
        return { name, type: 'symlink', ...metadata(entry), size: 0, linkname: entry.target };
      case 'char-device':
      case 'block-device':
        return { name, type: entry.type, ...metadata(entry), size: 0, devmajor: entry.major, devminor: entry.minor };
      case 'fifo':
        return { name, type: 'fifo', ...metadata(entry), size: 0 };
      case 'file':
      case 'hardlink': {
        const root = entry.type === 'file' ? entry : rootOf.get(entry.path)!;
        const first = firstName.get(root) ?? name;
        if (first !== name) return { name, type: 'hardlink', ...metadata(root), size: 0, linkname: first };
        if (!Number.isSafeInteger(root.size) || root.size < 0) {
          throw new LayerEntryError(`layer entry "${root.path}": size must be a non-negative integer, got ${root.size}`);
        }
        return { name, type: 'file', ...metadata(root), size: root.size, body: fileBody(root) };
      }
    }
  });
  for (const record of records) validateRecord(record);
  return records;

  function metadata(entry: Exclude<LayerEntry, { type: 'whiteout' | 'opaque' }>) {
    if ((entry.mode & ~0o7777) !== 0) {
      throw new LayerEntryError(`layer entry "${entry.path}": mode ${entry.mode.toString(8)} has bits beyond 07777 (the type comes from the entry)`);
    }
    return { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: clamp(entry.mtime), ...(entry.xattrs ? { xattrs: entry.xattrs } : {}) };
  }
}

/**
 * A deterministic layer tar of the entries: sorted by path, PAX for long or non-ASCII names and
 * xattrs, empty owner names, mtimes clamped to `sourceDateEpoch`. File bytes are streamed from
 * their source when reached. Invalid entries throw LayerEntryError before any byte is produced.
 */
export function layerTar(entries: readonly LayerEntry[], options: LayerTarOptions = {}): Readable {
  return tarStream(layerTarRecords(entries, options));
}

export { TarFormatError };
