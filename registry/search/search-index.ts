import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { BlobStore } from '../blob-store.js';
import { RegistryError } from '../errors.js';
import type { ManifestChange } from '../manifest-store.js';
import type { Page, PageRequest } from '../pagination.js';
import type { RepositoryFilter } from '../pull-access.js';
import type { StorageDriver } from '../storage/driver.js';
import { IndexJournal } from './index-journal.js';
import { buildIndex, installIndex } from './reindex.js';
import { RepositoryReader } from './repository-reader.js';
import { IN_MEMORY, SearchDatabase, type RepositorySummary, type SearchResults } from './search-database.js';
import { SCHEMA_VERSION } from './search-schema.js';
import type { SearchQuery } from './search-statement.js';

/** How often the index reads the journal even without requests, checks the generation and prunes. */
const SYNC_INTERVAL_MS = 5_000;
/** How long an instance's changes stay in the journal. */
const JOURNAL_RETENTION_MS = 2 * 60_000;
/** Changes of an instance that stopped are pruned by the others after this. */
const ABANDONED_CHANGES_MS = 60 * 60_000;
/** An index that has not read the journal for this long asks whether it missed pruned changes. */
const SYNC_LAG_LIMIT_MS = JOURNAL_RETENTION_MS / 2;
/** Clocks of instances sharing storage may disagree by this much. */
const CLOCK_SKEW_MS = 30_000;
/** A search arriving while the index is built waits this long before it is answered 503. */
const READY_WAIT_MS = 2_000;

/**
 * The search index of a registry: a SQLite database derived from storage, updated by every manifest
 * and tag write (this instance's at once, other instances' through the journal in storage), rebuilt
 * in the background when absent or outdated. Queries answer from it only when it is ready; callers
 * fall back to storage (the catalog, tag lists) or answer 503 (search).
 */
export class SearchIndex {
  private db: SearchDatabase | undefined;
  /** An index file found at start, until it is checked against storage. */
  private existing: SearchDatabase | undefined;
  private unavailable: string | undefined;
  private building: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly journal: IndexJournal;
  private readonly reader: RepositoryReader;
  /** Journal changes this index holds: its own, and those it read. */
  private applied = new Set<string>();
  /** When the last successful journal read began (ms): changes recorded before it are applied. */
  private syncedAt = 0;
  /** The journal's ids as the last successful sync listed them: what upkeep prunes. */
  private listed: readonly string[] = [];
  private syncing: Promise<void> | undefined;
  private nextSync: Promise<void> | undefined;
  private readonly repositoryWork = new Map<string, Promise<void>>();
  private readonly readyWaiters = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  /** `path` is a file, or IN_MEMORY. */
  constructor(private readonly storage: StorageDriver, blobs: BlobStore, private readonly path: string, private readonly log: FastifyBaseLogger) {
    this.reader = new RepositoryReader(storage, blobs);
    this.existing = this.openExisting();
    this.journal = new IndexJournal(storage, this.existing?.meta('instance') ?? randomBytes(8).toString('hex'));
  }

  /** Checks the index against storage (rebuilding it in the background when needed) and starts syncing. */
  start(): void {
    if (this.unavailable !== undefined) return;
    void this.open();
    this.timer = setInterval(() => void this.tick(), SYNC_INTERVAL_MS).unref();
  }

  /** Stops syncing and any rebuild, and closes the database. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.building;
    await Promise.allSettled(this.repositoryWork.values());
    this.existing?.close();
    this.db?.close();
    this.db = undefined;
  }

  /** Records a manifest or tag write in the journal and updates the index; runs before the write's response. */
  async changed(change: ManifestChange): Promise<void> {
    const id = await this.journal.append(change);
    this.applied.add(id);
    if (this.db !== undefined) await this.refresh(this.db, change);
  }

  /** A catalog page from the index, or undefined while it is not ready. */
  async catalog(request: PageRequest, canPull: RepositoryFilter): Promise<Page | undefined> {
    return (await this.current())?.catalog(request, canPull);
  }

  /** A tag list page from the index, or undefined while it is not ready or has no such repository. */
  async tags(name: string, request: PageRequest): Promise<Page | undefined> {
    return (await this.current())?.tags(name, request);
  }

  /** A page of search results; throws UNAVAILABLE (503) while the index is being built. */
  async search(query: SearchQuery, canPull: RepositoryFilter): Promise<SearchResults> {
    return (await this.ready()).search(query, canPull);
  }

  /** One repository, or undefined when the index has none the caller may pull; throws UNAVAILABLE (503) while the index is being built. */
  async repository(name: string, canPull: RepositoryFilter): Promise<RepositorySummary | undefined> {
    const db = await this.ready();
    return canPull(name) ? db.repository(name) : undefined;
  }

  private openExisting(): SearchDatabase | undefined {
    if (this.path === IN_MEMORY || !existsSync(this.path)) return undefined;
    try {
      return SearchDatabase.open(this.path, { exclusive: true });
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        this.unavailable = `${this.path} is in use by another process`;
        this.log.error(`search index ${this.unavailable} (give each registry its own --search-index): search is off, and the catalog is read from storage`);
        return undefined;
      }
      this.log.warn({ err: error }, `search index ${this.path} cannot be read: rebuilding it`);
      for (const file of [this.path, `${this.path}-wal`, `${this.path}-shm`]) rmSync(file, { force: true });
      return undefined;
    }
  }

  private async open(): Promise<void> {
    const existing = this.existing;
    this.existing = undefined;
    let reason = 'there is none yet';
    if (existing !== undefined) {
      try {
        const outdated = await this.outdated(existing);
        if (this.abort.signal.aborted) {
          existing.close();
          return;
        }
        if (outdated === undefined) {
          this.syncedAt = Number(existing.meta('synced_at'));
          this.becomeReady(existing, []);
          return;
        }
        reason = outdated;
      } catch (error) {
        reason = `checking it failed (${(error as Error).message})`;
      }
      existing.close();
    }
    this.rebuild(reason);
  }

  /** Why an index cannot be used as it is, or undefined when it can. */
  private async outdated(db: SearchDatabase): Promise<string | undefined> {
    const version = db.meta('schema_version');
    if (version !== String(SCHEMA_VERSION)) return `its schema is version ${version}, this wharf's is ${SCHEMA_VERSION}`;
    if (db.meta('generation') !== (await this.journal.generation())) return 'storage has a new generation';
    const syncedAt = Number(db.meta('synced_at'));
    if (!Number.isFinite(syncedAt)) return 'it was never completed';
    if (await this.journal.prunedSince(syncedAt - CLOCK_SKEW_MS)) return 'changes made since it was last synced have left the journal';
    return undefined;
  }

  /** Builds a new index in the background; until it is in place, reads fall back or wait. */
  private rebuild(reason: string): void {
    if (this.building !== undefined || this.abort.signal.aborted) return;
    const previous = this.db;
    this.db = undefined;
    this.building = (async () => {
      await Promise.allSettled(this.repositoryWork.values());
      previous?.close();
      this.log.info({ reason }, 'building the search index from storage');
      const started = performance.now();
      try {
        const built = await buildIndex(this.storage, this.path, this.journal.instance, this.abort.signal);
        const db = installIndex(built, this.path);
        this.syncedAt = Number(db.meta('synced_at'));
        const counts = db.counts();
        this.log.info({ ...counts, seconds: Math.round(performance.now() - started) / 1000 }, 'search index ready');
        this.becomeReady(db, built.journalIds);
      } catch (error) {
        if (!this.abort.signal.aborted) this.log.error({ err: error }, 'building the search index failed: retrying shortly');
      }
    })().finally(() => {
      this.building = undefined;
    });
  }

  private becomeReady(db: SearchDatabase, applied: readonly string[]): void {
    this.applied = new Set(applied);
    this.db = db;
    for (const resolve of this.readyWaiters) resolve();
    this.readyWaiters.clear();
    void this.sync();
  }

  /** The index synced with the journal, or undefined while it is not ready. */
  private async current(): Promise<SearchDatabase | undefined> {
    if (this.db === undefined) return undefined;
    await this.sync();
    return this.db;
  }

  /** The index once ready, waiting a little for a build in progress; throws UNAVAILABLE. */
  private async ready(): Promise<SearchDatabase> {
    if (this.db === undefined && this.unavailable === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, READY_WAIT_MS);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.readyWaiters.add(done);
      });
    }
    const db = await this.current();
    if (db === undefined) {
      const why = this.unavailable ?? 'the search index is being built from storage; try again shortly';
      throw new RegistryError('UNAVAILABLE', `search is unavailable: ${why}`);
    }
    return db;
  }

  /**
   * Applies the journal's changes this index has not seen. A read joins a sync that is about to
   * list the journal, never one that listed it before the read arrived.
   */
  private sync(): Promise<void> {
    if (this.syncing === undefined) {
      this.syncing = this.syncOnce().finally(() => {
        this.syncing = undefined;
      });
      return this.syncing;
    }
    this.nextSync ??= this.syncing.then(() => {
      this.nextSync = undefined;
      return this.sync();
    });
    return this.nextSync;
  }

  private async syncOnce(): Promise<void> {
    const db = this.db;
    if (db === undefined) return;
    const startedAt = Date.now();
    try {
      const ids = await this.journal.ids();
      for (const id of ids) {
        if (this.applied.has(id)) continue;
        const change = await this.journal.read(id);
        if (change !== undefined) await this.refresh(db, change);
        this.applied.add(id);
      }
      const listed = new Set(ids);
      for (const id of this.applied) if (!listed.has(id)) this.applied.delete(id);
      this.listed = ids;
      this.syncedAt = startedAt;
    } catch (error) {
      // Answering from an index a moment behind beats failing the request; the next sync retries.
      this.log.warn({ err: error }, 'reading the search index journal failed');
    }
  }

  /** Reads what a change touched from storage into the index; one change per repository at a time. */
  private refresh(db: SearchDatabase, change: ManifestChange): Promise<void> {
    const previous = this.repositoryWork.get(change.name) ?? Promise.resolve();
    const work = previous.then(async () => {
      try {
        const patch = await this.reader.read(change, (digest) => db.hasManifest(change.name, digest));
        // A rebuild that began meanwhile reads this change from storage itself.
        if (this.db === db) db.apply(patch);
      } catch (error) {
        this.log.error({ err: error, repository: change.name }, 'updating the search index failed: rebuilding it');
        this.rebuild(`updating ${change.name} failed`);
      }
    });
    this.repositoryWork.set(change.name, work);
    void work.finally(() => {
      if (this.repositoryWork.get(change.name) === work) this.repositoryWork.delete(change.name);
    });
    return work;
  }

  /** The periodic work: retry a failed build, follow the generation, notice a long gap, sync, prune. */
  private async tick(): Promise<void> {
    const db = this.db;
    if (db === undefined) {
      if (this.building === undefined) this.rebuild('the last build failed');
      return;
    }
    try {
      if ((await this.journal.generation()) !== db.meta('generation')) return this.rebuild('storage has a new generation');
      if (Date.now() - this.syncedAt > SYNC_LAG_LIMIT_MS && (await this.journal.prunedSince(this.syncedAt - CLOCK_SKEW_MS))) {
        return this.rebuild('changes made since it was last synced have left the journal');
      }
      await this.sync();
      if (this.db !== db) return;
      db.setMeta('synced_at', String(this.syncedAt));
      // The sync just listed the journal: pruning works from that listing rather than a second one.
      await this.journal.prune(this.listed, JOURNAL_RETENTION_MS, ABANDONED_CHANGES_MS);
    } catch (error) {
      this.log.warn({ err: error }, 'search index upkeep failed');
    }
  }
}
