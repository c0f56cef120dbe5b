import { BlobStore } from './blob-store.js';
import { ManifestStore } from './manifest-store.js';
import { listRepositories } from './repositories.js';
import type { StorageDriver } from './storage/driver.js';
import { UploadSessions } from './uploads.js';

/** The registry's logic over one storage driver: what the HTTP handlers call. */
export class Registry {
  readonly blobs: BlobStore;
  readonly uploads: UploadSessions;
  readonly manifests: ManifestStore;

  constructor(readonly storage: StorageDriver) {
    this.blobs = new BlobStore(storage);
    this.uploads = new UploadSessions(storage, this.blobs);
    this.manifests = new ManifestStore(storage, this.blobs);
  }

  /** Every repository with at least one manifest, sorted. */
  repositories(): Promise<string[]> {
    return listRepositories(this.storage);
  }

  /** Deletes upload sessions started more than `maxAgeMs` ago; returns how many. */
  async purgeUploads(maxAgeMs: number): Promise<number> {
    return this.uploads.purge(new Date(Date.now() - maxAgeMs), await listRepositories(this.storage, '_uploads'));
  }
}
