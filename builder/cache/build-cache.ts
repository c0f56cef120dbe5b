import Database from 'better-sqlite3';
import type { Digest } from '../../shared/digest.js';
import type { Compression } from '../../shared/layer/compression.js';
import type { Descriptor } from '../../shared/oci.js';

/**
 * The layer a step made: a tar in the content store, or (a RUN's) only its snapshot, the one of
 * chain `chainId` (a key fixes the parent layers, so the chain too), whose tar is made again when
 * exported, with the SOURCE_DATE_EPOCH it was hashed with.
 */
export interface StepLayer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
  readonly snapshot?: { readonly chainId: Digest; readonly sourceDateEpoch?: number };
}

/** What a build step produced: a layer (or none, for ENV and the like) and when it was first built. */
export interface CachedStep {
  readonly layer?: StepLayer;
  /** RFC 3339; kept so a rebuild from cache gives the same history, hence the same image ID. */
  readonly created: string;
}

/** A step as one build used it (run or cached): its cache key and result, what a registry cache exports. */
export interface KeyedStep extends CachedStep {
  readonly key: Digest;
}

/**
 * The build cache index: step cache key → result, in SQLite inside the build root; layer bytes
 * live in the build root's content store. A row is written only after its layer is stored, and one
 * INSERT is atomic, so an interrupted build leaves no half entry. It also remembers the compressed
 * blob made of each of the builder's (uncompressed) layers, so each is compressed once.
 */
export class BuildCache {
  private readonly db: Database.Database;
  private readonly lookup: Database.Statement<[string], { result: string }>;
  private readonly insert: Database.Statement<[string, string, number]>;
  private readonly lookupBlob: Database.Statement<[string, string], { descriptor: string }>;
  private readonly insertBlob: Database.Statement<[string, string, string]>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL with NORMAL sync never corrupts the database; a crash may only drop the last rows, which are rebuilt.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, result TEXT NOT NULL, used_at INTEGER NOT NULL)');
    this.lookup = this.db.prepare('SELECT result FROM steps WHERE key = ?');
    this.insert = this.db.prepare('INSERT OR REPLACE INTO steps (key, result, used_at) VALUES (?, ?, ?)');
    this.db.exec('CREATE TABLE IF NOT EXISTS compressed_layers (diff_id TEXT NOT NULL, compression TEXT NOT NULL, descriptor TEXT NOT NULL, PRIMARY KEY (diff_id, compression))');
    this.lookupBlob = this.db.prepare('SELECT descriptor FROM compressed_layers WHERE diff_id = ? AND compression = ?');
    this.insertBlob = this.db.prepare('INSERT OR REPLACE INTO compressed_layers (diff_id, compression, descriptor) VALUES (?, ?, ?)');
  }

  get(key: Digest): CachedStep | undefined {
    const row = this.lookup.get(key);
    return row ? (JSON.parse(row.result) as CachedStep) : undefined;
  }

  put(key: Digest, step: CachedStep): void {
    this.insert.run(key, JSON.stringify(step), Date.now());
  }

  /** The blob a layer was compressed into, with `compression`, if it was. */
  compressedLayer(diffId: Digest, compression: Compression): Descriptor | undefined {
    const row = this.lookupBlob.get(diffId, compression);
    return row ? (JSON.parse(row.descriptor) as Descriptor) : undefined;
  }

  putCompressedLayer(diffId: Digest, compression: Compression, descriptor: Descriptor): void {
    this.insertBlob.run(diffId, compression, JSON.stringify(descriptor));
  }

  close(): void {
    this.db.close();
  }
}
