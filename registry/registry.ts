import type { FastifyBaseLogger } from 'fastify';
import { BlobStore } from './blob-store.js';
import { ManifestStore } from './manifest-store.js';
import { pageOf, paginate, type Page, type PageRequest } from './pagination.js';
import type { RepositoryFilter } from './pull-access.js';
import { listRepositoryFolders, withManifests } from './repositories.js';
import { SearchIndex } from './search/search-index.js';
import type { StorageDriver } from './storage/driver.js';
import { UploadSessions } from './uploads.js';

export interface RegistryOptions {
  /** Where the search index lives: a file, or `memory://`. */
  readonly searchIndex: string;
  readonly log: FastifyBaseLogger;
}

/** The registry's logic over one storage driver: what the HTTP handlers call. */
export class Registry {
  readonly blobs: BlobStore;
  readonly uploads: UploadSessions;
  readonly manifests: ManifestStore;
  readonly search: SearchIndex;

  constructor(readonly storage: StorageDriver, options: RegistryOptions) {
    this.blobs = new BlobStore(storage);
    this.uploads = new UploadSessions(storage, this.blobs);
    this.search = new SearchIndex(storage, this.blobs, options.searchIndex, options.log);
    this.manifests = new ManifestStore(storage, this.blobs, (change) => this.search.changed(change));
  }

  /** A page of the catalog: from the search index when it is ready, else from a storage walk (the same names). */
  async catalog(request: PageRequest, canPull: RepositoryFilter): Promise<Page> {
    const fromIndex = await this.search.catalog(request, canPull);
    if (fromIndex !== undefined) return fromIndex;
    // Only the folders the page needs are checked for manifests: on a big registry the walk is slow enough.
    const after = (await listRepositoryFolders(this.storage, '_manifests')).filter((name) => (request.last === undefined || name > request.last) && canPull(name));
    return pageOf(await withManifests(this.storage, after, request.n === undefined ? undefined : request.n + 1), request.n);
  }

  /** A page of a repository's tags: from the search index when it is ready, else from storage; throws NAME_UNKNOWN. */
  async tags(name: string, request: PageRequest): Promise<Page> {
    return (await this.search.tags(name, request)) ?? paginate(await this.manifests.tags(name), request);
  }

  /** Deletes upload sessions started more than `maxAgeMs` ago; returns how many. */
  async purgeUploads(maxAgeMs: number): Promise<number> {
    return this.uploads.purge(new Date(Date.now() - maxAgeMs), await listRepositoryFolders(this.storage, '_uploads'));
  }
}
