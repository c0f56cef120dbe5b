import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { MemoryDriver } from './memory.js';
import { parseS3Url } from './s3-options.js';

/** The driver a `--storage` value names: a directory, `file:///dir`, `memory://` or `s3://bucket[/prefix]?…`. */
export async function openStorage(spec: string): Promise<StorageDriver> {
  if (spec === 'memory://') return new MemoryDriver();
  if (spec.startsWith('file://')) return new FilesystemDriver(fileURLToPath(spec));
  if (spec.startsWith('s3://')) {
    const options = parseS3Url(spec);
    // Loaded only for S3: the AWS SDK is a cost filesystem registries need not pay at start.
    const { S3Driver } = await import('./s3.js');
    return new S3Driver(options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new ConfigError(`--storage: unsupported storage "${spec}" (use a directory, file:///dir, memory:// or s3://bucket)`);
  }
  return new FilesystemDriver(spec);
}
