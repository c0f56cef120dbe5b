import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { fileSha256Hex } from '../context/content-hash.js';

/**
 * sha256 of context files, remembered by path with the metadata that changes whenever the content
 * does (size, mtime and ctime in nanoseconds, inode), as BuildKit's checksum cache does: a warm
 * rebuild stats the context instead of reading all of it. A file whose metadata changed is read again.
 */
export class FileDigestCache {
  private readonly db: Database.Database;
  // Read whole at open: one Map lookup per context file beats one SQLite query per file.
  private readonly known = new Map<string, { fingerprint: string; digest: string }>();
  private readonly upsert: Database.Statement<[string, string, string]>;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL with NORMAL sync never corrupts the database; a crash may only drop the last rows, which are rebuilt.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, digest TEXT NOT NULL)');
    const rows = this.db.prepare('SELECT path, fingerprint, digest FROM files').all() as { path: string; fingerprint: string; digest: string }[];
    for (const { path, fingerprint, digest } of rows) this.known.set(path, { fingerprint, digest });
    this.upsert = this.db.prepare('INSERT OR REPLACE INTO files (path, fingerprint, digest) VALUES (?, ?, ?)');
  }

  /** The sha256 (hex) of a file's bytes: from the cache when its metadata is unchanged, else read. */
  async sha256Hex(path: string): Promise<string> {
    const before = fingerprint(path);
    const row = this.known.get(path);
    if (row && row.fingerprint === before) return row.digest;
    const digest = await fileSha256Hex(path);
    // Remembered only if the file did not change while it was read.
    if (fingerprint(path) === before) {
      this.upsert.run(path, before, digest);
      this.known.set(path, { fingerprint: before, digest });
    }
    return digest;
  }

  close(): void {
    this.db.close();
  }
}

// Synchronous: one stat of cached metadata per context file, where a thread-pool hop costs more than the call.
function fingerprint(path: string): string {
  const info = statSync(path, { bigint: true });
  return `${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.ino}:${info.dev}`;
}
