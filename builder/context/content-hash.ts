import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Digest } from '../../shared/digest.js';
import { mapConcurrently } from '../../shared/concurrency.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';

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

  const hash = createHash('sha256');
  field(hash, 'v', ENCODING_VERSION);
  field(hash, 'n', String(sorted.length));
  for (const [i, entry] of sorted.entries()) {
    field(hash, 't', entry.type);
    field(hash, 'p', entry.path);
    if (entry.type === 'whiteout' || entry.type === 'opaque') continue;
    field(hash, 'm', entry.mode.toString(8));
    field(hash, 'u', String(entry.uid));
    field(hash, 'g', String(entry.gid));
    if (entry.type === 'symlink' || entry.type === 'hardlink') field(hash, 'l', entry.target);
    if (entry.type === 'file') {
      field(hash, 's', String(entry.size));
      field(hash, 'c', contents[i]!);
    }
    const xattrs = Object.keys(entry.xattrs ?? {}).sort();
    field(hash, 'x', String(xattrs.length));
    for (const name of xattrs) {
      field(hash, 'k', name);
      field(hash, 'w', entry.xattrs![name]!);
    }
  }
  return `sha256:${hash.digest('hex')}` as Digest;
}

/** The sha256 of a file's bytes, read as a stream. */
export function fileSha256Hex(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One field: a tag byte, the value's length as 8 bytes big-endian, the value's bytes. */
function field(hash: Hash, tag: string, value: string | Uint8Array): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const header = Buffer.alloc(9);
  header.write(tag, 0, 1, 'latin1');
  header.writeBigUInt64BE(BigInt(bytes.length), 1);
  hash.update(header);
  hash.update(bytes);
}
