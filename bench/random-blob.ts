/** The large blob pushed and pulled: a file of random bytes written once, with its sha256 digest. */
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface BlobFile {
  path: string;
  size: number;
  digest: string;
}

const CHUNK = 4 * 1024 * 1024;

export async function writeRandomBlob(path: string, size: number): Promise<BlobFile> {
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    let written = 0;
    while (written < size) {
      const chunk = randomBytes(Math.min(CHUNK, size - written));
      hash.update(chunk);
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
      written += chunk.length;
    }
  } finally {
    await file.close();
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}
