// Blob content for the server tests, and its digest computed independently of the server's code.
import { createHash } from 'node:crypto';

/** `sha256:…` of the bytes. */
export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Bytes that differ per call and per seed (cheap to make, not compressible by accident). */
export function testBytes(length: number, seed: number): Buffer {
  const block = createHash('sha512').update(`wharf-test-${seed}`).digest();
  const data = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; counter++) {
    const chunk = createHash('sha512').update(block).update(String(counter)).digest();
    offset += chunk.copy(data, offset);
  }
  return data;
}
