// Reads tars back for the layer and export tests, with tar-stream's extractor (an independent reader).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
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
