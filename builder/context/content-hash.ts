import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Digest } from '../../shared/digest.js';
import { mapConcurrently } from '../../shared/concurrency.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import type { CopyPlanOptions } from './copy-plan.js';

/** Options of hashCopySources(). */
export interface ContentHashOptions {
  /** How many files are read at once (default 8). */
  readonly concurrency?: number;
  /** How a file's sha256 (hex) is found; default: read it (the build uses a cache keyed by file metadata). */
  readonly fileSha256Hex?: (path: string) => Promise<string>;
}

// Bump when the encoding changes, so old cache entries stop matching.
const ENCODING_VERSION = 'wharf.copy-content.v1';

/**
 * The cache key input of a COPY/ADD: a digest over what its layer entries are, never when they
 * were made. Each entry contributes its path, type, mode, owner, link target, xattrs and, for a
 * file, the digest of its bytes (streamed; several files read at once), in a length-framed
 * encoding so that no two different entry lists encode alike. Order-independent: entries are
 * taken in the layer writer's path order. Mtimes are left out on purpose: touching a file must
 * not invalidate the cache.
 */
export async function hashCopySources(entries: readonly LayerEntry[], options: ContentHashOptions = {}): Promise<Digest> {
  const sorted = entries
    .map((entry) => ({ entry, key: Buffer.from(`${entry.path.replaceAll('/', '\0')}\0${entry.type}`, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ entry }) => entry);
  const contents = await mapConcurrently(sorted, options.concurrency ?? 8, async (entry) => {
    if (entry.type !== 'file') return undefined;
    return 'content' in entry.source ? sha256Hex(entry.source.content) : (options.fileSha256Hex ?? fileSha256Hex)(entry.source.file);
  });

  const hash = new FramedHash();
  hash.field('v', ENCODING_VERSION);
  hash.field('n', String(sorted.length));
  for (const [i, entry] of sorted.entries()) {
    hash.field('t', entry.type);
    hash.field('p', entry.path);
    if (entry.type === 'whiteout' || entry.type === 'opaque') continue;
    hash.field('m', entry.mode.toString(8));
    hash.field('u', String(entry.uid));
    hash.field('g', String(entry.gid));
    if (entry.type === 'symlink' || entry.type === 'hardlink') hash.field('l', entry.target);
    if (entry.type === 'char-device' || entry.type === 'block-device') hash.field('d', `${entry.major}:${entry.minor}`);
    if (entry.type === 'file') {
      hash.field('s', String(entry.size));
      hash.field('c', contents[i]!);
    }
    const xattrs = Object.keys(entry.xattrs ?? {}).sort();
    hash.field('x', String(xattrs.length));
    for (const name of xattrs) {
      hash.field('k', name);
      hash.field('w', entry.xattrs![name]!);
    }
  }
  return `sha256:${hash.hexDigest()}` as Digest;
}

const SELECTION_VERSION = 'wharf.copy-selection.v1';

/**
 * The selection stamp of a COPY/ADD: a digest over everything its content digest depends on — the
 * plan's options and every selected entry as listed, with each file's stamp (size, times, inode)
 * standing for its bytes. Equal stamps mean equal content digests, so a warm rebuild can skip
 * planning and hashing. Undefined when a source has no stamps to stand for its bytes (archives, URLs).
 */
export function selectionStamp(plan: CopyPlanOptions): Digest | undefined {
  const hash = new FramedHash();
  hash.field('v', SELECTION_VERSION);
  hash.field('i', plan.instruction ?? 'COPY');
  hash.field('d', plan.destination);
  hash.field('w', plan.workdir);
  hash.field('o', plan.chown ? `${plan.chown.uid}:${plan.chown.gid}` : '');
  hash.field('m', plan.chmod === undefined ? '' : plan.chmod.toString(8));
  hash.field('e', plan.sourceDateEpoch === undefined ? '' : String(plan.sourceDateEpoch));
  hash.field('n', String(plan.sources.length));
  for (const source of plan.sources) {
    if (source.kind === 'archive') return undefined;
    for (const [tag, value] of [['P', source.pattern], ['p', source.path], ['N', source.name], ['k', source.kind], ['G', String(source.group)]] as const) hash.field(tag, value);
    hash.field('n', String(source.entries.length));
    for (const entry of source.entries) {
      let content: string;
      if (entry.type !== 'file') content = '';
      else if (entry.stamp !== undefined) content = entry.stamp;
      else if (entry.source && 'content' in entry.source) content = sha256Hex(entry.source.content);
      else return undefined;
      const xattrs = Object.keys(entry.xattrs ?? {}).sort().map((name) => [name, entry.xattrs![name]!.toString('base64')]);
      // One field per entry: a JSON array is an unambiguous encoding, and 20k entries × 9 fields was most of the stamp's time.
      hash.field('e', JSON.stringify([entry.type, entry.path, entry.mode, entry.uid, entry.gid, entry.target ?? '', entry.inode ?? '', content, xattrs]));
    }
  }
  return `sha256:${hash.hexDigest()}` as Digest;
}

// Files up to this size are read whole: a stream with a 1 MiB buffer per small file was most of a cold build's GC.
const READ_WHOLE_BYTES = 256 * 1024;

/** The sha256 of a file's bytes: small files read whole, larger ones streamed. */
export async function fileSha256Hex(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size <= READ_WHOLE_BYTES) return sha256Hex(await file.readFile());
    const hash = createHash('sha256');
    for await (const chunk of file.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } finally {
    await file.close();
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A sha256 over length-framed fields: a tag byte, the value's length as 8 bytes big-endian, the
 * value's bytes. Fields are written into one reused buffer and hashed in large pieces: a COPY of
 * 20k files makes 200k fields, and a buffer per field was most of a warm rebuild's key time.
 */
class FramedHash {
  private readonly hash: Hash = createHash('sha256');
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private used = 0;

  field(tag: string, value: string | Uint8Array): void {
    const length = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    this.reserve(9 + length);
    const at = this.used;
    this.buffer[at] = tag.charCodeAt(0);
    this.buffer.writeUInt32BE(Math.floor(length / 2 ** 32), at + 1);
    this.buffer.writeUInt32BE(length >>> 0, at + 5);
    if (typeof value === 'string') this.buffer.write(value, at + 9, 'utf8');
    else this.buffer.set(value, at + 9);
    this.used = at + 9 + length;
  }

  hexDigest(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    this.flush();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
  }

  // Hash.update consumes the bytes before it returns, so the buffer can be reused at once.
  private flush(): void {
    this.hash.update(this.buffer.subarray(0, this.used));
    this.used = 0;
  }
}
