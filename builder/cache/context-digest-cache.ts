import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { Digest } from '../../shared/digest.js';
import { fileSha256Hex } from '../context/content-hash.js';
import { fileStamp } from '../context/file-stamp.js';

/**
 * Digests of build-context content, remembered by the metadata that changes whenever the content
 * does, as BuildKit's checksum cache does: a file's sha256 by its path and stamp, and a whole COPY
 * selection's content digest by its selection stamp (see selectionStamp). A warm rebuild stats the
 * context instead of reading, planning and hashing it; anything whose metadata changed is read again.
 */
export class ContextDigestCache {
  private readonly db: Database.Database;
  // Read whole when first needed (a warm rebuild whose selections all match never needs it): one Map lookup per file beats one query.
  private known: Map<string, { stamp: string; digest: string }> | undefined;
  private readonly upsertFile: Database.Statement<[string, string, string]>;
  private readonly lookupSelection: Database.Statement<[string], { content: Digest }>;
  private readonly upsertSelection: Database.Statement<[string, string]>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL with NORMAL sync never corrupts the database; a crash may only drop the last rows, which are rebuilt.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, digest TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS copy_selections (stamp TEXT PRIMARY KEY, content TEXT NOT NULL);
    `);
    this.upsertFile = this.db.prepare('INSERT OR REPLACE INTO files (path, fingerprint, digest) VALUES (?, ?, ?)');
    this.lookupSelection = this.db.prepare('SELECT content FROM copy_selections WHERE stamp = ?');
    this.upsertSelection = this.db.prepare('INSERT OR REPLACE INTO copy_selections (stamp, content) VALUES (?, ?)');
  }

  /** The sha256 (hex) of a file's bytes: from the cache when its stamp is unchanged, else read. */
  async sha256Hex(path: string): Promise<string> {
    const before = fileStamp(statSync(path));
    const row = this.files().get(path);
    if (row && row.stamp === before) return row.digest;
    const digest = await fileSha256Hex(path);
    // Remembered only if the file did not change while it was read.
    if (fileStamp(statSync(path)) === before) {
      this.upsertFile.run(path, before, digest);
      this.files().set(path, { stamp: before, digest });
    }
    return digest;
  }

  /**
   * A COPY's content digest by its selection stamp: remembered, else computed by `compute` and
   * remembered. The stamp is taken before the files are read, so a file changed meanwhile gets a
   * new stamp next time (its ctime moved) and is read again.
   */
  async selectionDigest(stamp: Digest, compute: () => Promise<Digest>): Promise<Digest> {
    const known = this.lookupSelection.get(stamp)?.content;
    if (known) return known;
    const content = await compute();
    this.upsertSelection.run(stamp, content);
    return content;
  }

  private files(): Map<string, { stamp: string; digest: string }> {
    if (!this.known) {
      const rows = this.db.prepare('SELECT path, fingerprint, digest FROM files').all() as { path: string; fingerprint: string; digest: string }[];
      this.known = new Map(rows.map(({ path, fingerprint, digest }) => [path, { stamp: fingerprint, digest }]));
    }
    return this.known;
  }

  close(): void {
    this.db.close();
  }
}
