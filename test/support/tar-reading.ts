// Reads tars back for the tests (layers, archives, docker save output), with tar-stream's extractor: a reader independent of Wharf's own tar writer.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** One entry read back: its header as tar-stream decodes it (PAX applied) and its body. */
export interface ReadEntry {
  readonly header: tar.Header;
  /** The entry's PAX records (tar-stream decodes values as UTF-8). */
  readonly pax: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Every entry of an uncompressed tar, in archive order. */
export async function readTar(bytes: Buffer): Promise<ReadEntry[]> {
  const entries: ReadEntry[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        entries.push({ header, pax: (header.pax ?? {}) as Record<string, string>, body: Buffer.concat(chunks) });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return entries;
}

/** The regular files of a tar (gzip-compressed or not) whose names `wanted` accepts, by name without a leading "./" or "/". */
export async function tarFiles(bytes: Buffer, wanted: (name: string) => boolean = () => true): Promise<Map<string, Buffer>> {
  const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const files = new Map<string, Buffer>();
  for (const { header, body } of await readTar(plain)) {
    if (header.type === 'file' && wanted(header.name)) files.set(header.name.replace(/^\.?\//, ''), body);
  }
  return files;
}

/** All bytes of a stream. */
export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `sha256:<hex>` of some bytes. */
export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
