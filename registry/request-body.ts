import type { Readable } from 'node:stream';
import type { RegistryError } from './errors.js';

/** Reads a request body whole, refusing one longer than `limit` (with `tooLarge`'s error) before buffering it. */
export async function readLimited(body: Readable, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
