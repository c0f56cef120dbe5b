// Which storage the API and end-to-end suites run on. WHARF_TEST_STORAGE=s3 puts them on S3 (a
// bucket per registry on an s3rver shared by the test process); otherwise memory (API) or a
// directory (end to end). `npm test` runs a representative set both ways.
import { createHash } from 'node:crypto';
import type { StorageDriver } from '../../registry/storage/driver.js';
import { MemoryDriver } from '../../registry/storage/memory.js';
import { S3Driver } from '../../registry/storage/s3.js';
import { parseS3Url } from '../../registry/storage/s3-options.js';
import { S3RVER_ENV, sharedS3Server } from './s3-server.js';

/** Whether this run is on S3. */
export const ON_S3 = process.env.WHARF_TEST_STORAGE === 's3';

// S3's least part size, so that blobs of a few MiB take several parts, in uploads and when moved
// to their digest's path (by a multipart copy above 5 MiB).
const SMALL_PARTS = { partSize: '5MiB', multipartCopyThresholdSize: '5MiB', multipartCopyChunkSize: '5MiB' };

/** A fresh, empty storage driver: memory, or a new bucket on S3. Two apps given one driver are two instances of a registry. */
export async function newTestStorage(): Promise<StorageDriver> {
  if (!ON_S3) return new MemoryDriver();
  const server = await sharedS3Server();
  return new S3Driver(parseS3Url(await server.bucket(undefined, SMALL_PARTS)));
}

/**
 * The `--storage` value for `wharf serve` standing for the storage directory `dir`: `dir` itself, or
 * on S3 a bucket named after it (the same one each time, so a restart on `dir` finds what was there).
 */
export async function storageSpecFor(dir: string): Promise<string> {
  if (!ON_S3) return dir;
  const server = await sharedS3Server();
  return server.bucket(`wharf-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`, SMALL_PARTS);
}

/** What `wharf serve` needs in its environment for the storage of this run. */
export function storageEnv(): Readonly<Record<string, string>> {
  return ON_S3 ? S3RVER_ENV : {};
}
