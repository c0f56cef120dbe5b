import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { mapConcurrently } from '../../shared/concurrency.js';
import { BlobStore } from '../blob-store.js';
import { listRepositoryFolders } from '../repositories.js';
import type { StorageDriver } from '../storage/driver.js';
import { IndexJournal } from './index-journal.js';
import { RepositoryReader } from './repository-reader.js';
import { IN_MEMORY, SearchDatabase, type RepositoryPatch } from './search-database.js';

// Repositories read at once: storage latency hides behind each other's reads, and SQLite writes in between.
const REPOSITORIES_AT_ONCE = 32;
// Repositories written per transaction: one commit each would cost more than the writing.
const REPOSITORIES_PER_TRANSACTION = 500;

/** A complete index of storage, not yet at its place (see installIndex). */
export interface BuiltIndex {
  readonly db: SearchDatabase;
  /** The journal's changes when the walk began: the walk saw them, so they count as applied. */
  readonly journalIds: readonly string[];
}

/**
 * Reads every repository in storage into a new database: in memory for IN_MEMORY, else a file
 * beside `path`, where the index being served stays untouched until installIndex.
 */
export async function buildIndex(storage: StorageDriver, path: string, instance: string, signal?: AbortSignal): Promise<BuiltIndex> {
  const journal = new IndexJournal(storage, instance);
  const generation = await journal.generation();
  const journalIds = await journal.ids();
  const syncedAt = Date.now();
  const target = path === IN_MEMORY ? IN_MEMORY : `${path}.rebuild`;
  if (target !== IN_MEMORY) {
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
  }
  // A file being built needs no journal or fsync: a crash leaves only a file the next build removes.
  const db = SearchDatabase.open(target, { bulk: target !== IN_MEMORY });
  try {
    const reader = new RepositoryReader(storage, new BlobStore(storage));
    let pending: RepositoryPatch[] = [];
    // A folder without manifests (all deleted) reads as an empty patch, which adds no repository.
    await mapConcurrently(await listRepositoryFolders(storage, '_manifests', signal), REPOSITORIES_AT_ONCE, async (name) => {
      signal?.throwIfAborted();
      // Read first, then push: `pending.push(await …)` would push into the array a flush has replaced.
      const patch = await reader.readAll(name);
      pending.push(patch);
      if (pending.length < REPOSITORIES_PER_TRANSACTION) return;
      db.apply(...pending);
      pending = [];
    });
    db.apply(...pending);
    if (target !== IN_MEMORY) db.finishBulk();
    db.setMeta('generation', generation);
    db.setMeta('synced_at', String(syncedAt));
    db.setMeta('instance', instance);
    return { db, journalIds };
  } catch (error) {
    db.close();
    if (target !== IN_MEMORY) rmSync(target, { force: true });
    throw error;
  }
}

/** Moves a built index to `path`, over the one there (closed by now), and opens it for serving. */
export function installIndex(built: BuiltIndex, path: string): SearchDatabase {
  if (path === IN_MEMORY) return built.db;
  built.db.close();
  // A write-ahead log left by the replaced index would be replayed into the new one.
  for (const leftover of [`${path}-wal`, `${path}-shm`]) rmSync(leftover, { force: true });
  renameSync(built.db.path, path);
  return SearchDatabase.open(path, { exclusive: true });
}

/** What `wharf reindex` did. */
export type ReindexOutcome =
  | { readonly rebuilt: true; readonly repositories: number; readonly manifests: number; readonly tags: number; readonly seconds: number }
  | { readonly rebuilt: false; readonly reason: string };

/**
 * `wharf reindex`: rebuilds the index file at `path` from storage. When a running registry holds the
 * file, it starts a new storage generation instead, and every registry on the storage rebuilds its own.
 */
export async function reindex(storage: StorageDriver, path: string): Promise<ReindexOutcome> {
  let instance = randomBytes(8).toString('hex');
  if (existsSync(path)) {
    let existing: SearchDatabase | undefined;
    try {
      existing = SearchDatabase.open(path, { exclusive: true });
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        await new IndexJournal(storage, instance).renewGeneration();
        const reason = `${path} is in use by a running registry: started a new storage generation, so every registry on this storage rebuilds its index in the background`;
        return { rebuilt: false, reason };
      }
      // Anything else (a damaged file) is what a rebuild replaces.
    }
    // Keeps the instance's name, so its own changes in the journal still count as its own.
    instance = existing?.meta('instance') ?? instance;
    existing?.close();
  }
  const started = performance.now();
  const db = installIndex(await buildIndex(storage, path, instance), path);
  try {
    return { rebuilt: true, ...db.counts(), seconds: (performance.now() - started) / 1000 };
  } finally {
    db.close();
  }
}
