import type { Writable } from 'node:stream';
import type { Digest } from '../shared/digest.js';
import { RegistryError } from './errors.js';
import type { StorageDriver } from './storage/driver.js';
import { StoragePaths } from './storage/paths.js';

/**
 * Blobs by digest, stored once for the whole registry; a repository serves a blob only when it
 * holds a link to it (pushed, mounted or referenced there), so repositories cannot read each
 * other's layers by guessing digests.
 */
export class BlobStore {
  constructor(private readonly driver: StorageDriver) {}

  /** The size of a blob the repository may serve, or undefined. */
  async size(name: string, digest: Digest): Promise<number | undefined> {
    if (!(await this.driver.stat(StoragePaths.layerLink(name, digest)))) return undefined;
    return this.sizeAnywhere(digest);
  }

  /** The size of a blob in the registry, whatever repository holds it. */
  async sizeAnywhere(digest: Digest): Promise<number | undefined> {
    return (await this.driver.stat(StoragePaths.blobData(digest)))?.size;
  }

  /** Writes a blob, or a range of it, into `destination` (see StorageDriver.copyTo); check access with size() first. */
  async copyTo(digest: Digest, destination: Writable, offset = 0, length?: number): Promise<void> {
    await this.driver.copyTo(StoragePaths.blobData(digest), destination, offset, length);
  }

  /** A URL where the client may fetch the blob itself, when the storage offers one (see StorageDriver.redirectUrl). */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    return this.driver.redirectUrl?.(StoragePaths.blobData(digest));
  }

  /** Reads a small blob (a manifest or config) whole. */
  async read(digest: Digest): Promise<Buffer> {
    return this.driver.getContent(StoragePaths.blobData(digest));
  }

  /** Lets the repository serve a blob that exists in the registry. */
  async link(name: string, digest: Digest): Promise<void> {
    await this.driver.putContent(StoragePaths.layerLink(name, digest), Buffer.from(digest));
  }

  /** Removes the repository's link; the bytes stay for other repositories (garbage collection frees them). */
  async unlink(name: string, digest: Digest): Promise<void> {
    if ((await this.size(name, digest)) === undefined) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    await this.driver.delete(StoragePaths.layer(name, digest));
  }

  /** Makes verified bytes at `source` the blob `digest` (unless it exists already) and links it to the repository. */
  async commit(name: string, digest: Digest, source: string): Promise<void> {
    if ((await this.sizeAnywhere(digest)) === undefined) await this.driver.move(source, StoragePaths.blobData(digest));
    await this.link(name, digest);
  }

  /** Stores small content (a manifest) under its digest; linking it is the caller's business. */
  async put(digest: Digest, content: Buffer): Promise<void> {
    if ((await this.sizeAnywhere(digest)) === undefined) await this.driver.putContent(StoragePaths.blobData(digest), content);
  }
}
