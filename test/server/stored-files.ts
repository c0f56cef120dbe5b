// What a server process left in its filesystem storage directory, read directly from disk.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Blobs in a filesystem storage directory whose bytes do not hash to the digest they are stored
 * under (the layout is /blobs/<algorithm>/<2 hex>/<hex>/data). Empty when storage is sound.
 */
export async function storedBlobMismatches(storage: string): Promise<string[]> {
  const mismatches: string[] = [];
  const list = (dir: string) => readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  for (const algorithm of await list(join(storage, 'blobs'))) {
    for (const prefix of await list(join(storage, 'blobs', algorithm))) {
      for (const hex of await list(join(storage, 'blobs', algorithm, prefix))) {
        const data = await readFile(join(storage, 'blobs', algorithm, prefix, hex, 'data'));
        const actual = createHash(algorithm).update(data).digest('hex');
        if (actual !== hex || !hex.startsWith(prefix)) mismatches.push(`${algorithm}:${hex} holds ${data.length} bytes hashing to ${actual}`);
      }
    }
  }
  return mismatches;
}

/** The upload sessions stored for a repository in a filesystem storage directory. */
export async function storedUploadSessions(storage: string, repository: string): Promise<string[]> {
  try {
    return await readdir(join(storage, 'repositories', repository, '_uploads'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
