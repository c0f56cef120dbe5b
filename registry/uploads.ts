import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, splitDigest, type Digest, type DigestAlgorithm } from '../shared/digest.js';
import type { BlobStore } from './blob-store.js';
import { RegistryError } from './errors.js';
import { deleteIfPresent } from './storage/delete-if-present.js';
import { PathNotFoundError, type FileWriter, type StorageDriver } from './storage/driver.js';
import { listOrEmpty } from './storage/list-or-empty.js';
import { StoragePaths } from './storage/paths.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Running hashes kept in memory only to skip re-reading an upload; losing one costs a re-hash, never data.
const MAX_CACHED_HASH_STATES = 4096;

/** Where a chunk must start, and how long it says it is, from Content-Range / Content-Length. */
export interface ChunkBounds {
  readonly start?: number;
  readonly length?: number;
}

/**
 * Blob upload sessions. A session is its start time and its stored bytes, nothing else, so any
 * instance (or this one after a restart) can continue it. The running hash lives in the memory of
 * the instance that wrote last, tied to the version of the bytes it hashed; when another instance
 * continues, the digest is taken from the stored bytes once they are complete. (Persisting the
 * hash state instead needs a hash written in JavaScript, 25x slower than node's: see the README.)
 */
export class UploadSessions {
  private readonly runningHashes = new Map<string, { version: string; digester: Digester }>();
  private readonly busy = new Set<string>();
  // Where each chunk being written started: its bytes are in storage but not yet part of the session.
  private readonly appendingFrom = new Map<string, number>();

  constructor(private readonly driver: StorageDriver, private readonly blobs: BlobStore) {}

  /** Starts an empty session and returns its id. */
  async start(name: string): Promise<string> {
    const id = randomUUID();
    // A purge here must not take the folder, made before the start time is in it, for a broken session.
    return this.exclusively(id, async () => {
      await this.driver.putContent(StoragePaths.uploadStartedAt(name, id), Buffer.from(new Date().toISOString()));
      return id;
    });
  }

  /** Bytes received so far; a chunk still being written (and maybe rolled back) does not count yet. */
  async offset(name: string, id: string): Promise<number> {
    const writing = this.appendingFrom.get(id);
    if (writing !== undefined) return writing;
    const info = UPLOAD_ID.test(id) ? await this.driver.stat(StoragePaths.uploadData(name, id)) : undefined;
    if (info) return info.size;
    await this.requireSession(name, id);
    return 0;
  }

  /** Appends a chunk streamed from `body`; returns the new offset. A failed chunk leaves the session as it was. */
  async append(name: string, id: string, body: Readable, bounds: ChunkBounds = {}): Promise<number> {
    return this.exclusively(id, async () => {
      const { writer, digester } = await this.writeChunk(name, id, 'sha256', { body, bounds }, (writer) => writer.close());
      this.remember(id, writer.version(), digester);
      return writer.size();
    });
  }

  /**
   * Finishes a session: verifies the bytes against `digest`, then makes them visible as that blob in
   * the repository. A mismatch ends the session and leaves nothing visible.
   */
  async complete(name: string, id: string, digest: Digest, finalChunk?: { body: Readable; bounds: ChunkBounds }): Promise<void> {
    const [algorithm] = splitDigest(digest);
    const data = StoragePaths.uploadData(name, id);
    await this.exclusively(id, async () => {
      const { digester } = await this.writeChunk(name, id, algorithm, finalChunk, (writer) => writer.commit());
      this.runningHashes.delete(id);
      const actual = digester?.digest() ?? (await this.hashStored(data, algorithm));
      if (actual !== digest) {
        await this.cancel(name, id);
        throw new RegistryError('DIGEST_INVALID', `upload has digest ${actual}, not ${digest}`, { digest });
      }
      await this.blobs.commit(name, digest, data);
      await this.cancel(name, id);
    });
  }

  /** Ends a session and deletes what it received. */
  async cancel(name: string, id: string): Promise<void> {
    // An id that no session could have (`..`, another folder's name) must not become a path to delete.
    if (!UPLOAD_ID.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
    this.runningHashes.delete(id);
    try {
      await this.driver.delete(StoragePaths.upload(name, id));
    } catch (error) {
      if (error instanceof PathNotFoundError) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
      throw error;
    }
  }

  /** Deletes sessions started before `olderThan` in every repository; returns how many. */
  async purge(olderThan: Date, repositories: readonly string[]): Promise<number> {
    let purged = 0;
    for (const name of repositories) {
      for (const session of await listOrEmpty(this.driver, StoragePaths.uploadsRoot(name))) {
        const id = session.slice(session.lastIndexOf('/') + 1);
        if (this.busy.has(id)) continue;
        const startedAt = await this.startedAt(name, id);
        if (startedAt === undefined || startedAt < olderThan) {
          await deleteIfPresent(this.driver, session);
          this.runningHashes.delete(id);
          purged++;
        }
      }
    }
    return purged;
  }

  private async startedAt(name: string, id: string): Promise<Date | undefined> {
    try {
      const date = new Date((await this.driver.getContent(StoragePaths.uploadStartedAt(name, id))).toString());
      return Number.isNaN(date.getTime()) ? undefined : date;
    } catch (error) {
      if (error instanceof PathNotFoundError) return undefined;
      throw error;
    }
  }

  private async requireSession(name: string, id: string): Promise<void> {
    if (!UPLOAD_ID.test(id) || !(await this.driver.stat(StoragePaths.uploadStartedAt(name, id)))) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
    }
  }

  /**
   * Opens the session's bytes for appending, streams the chunk (if any) in through the running hash
   * and ends the writer with `finish`; a failure undoes the chunk. Returns the writer and the hash.
   */
  private async writeChunk(
    name: string,
    id: string,
    algorithm: DigestAlgorithm,
    chunk: { body: Readable; bounds: ChunkBounds } | undefined,
    finish: (writer: FileWriter) => Promise<void>,
  ): Promise<{ writer: FileWriter; digester: Digester | undefined }> {
    await this.requireSession(name, id);
    const writer = await this.driver.writer(StoragePaths.uploadData(name, id), true);
    this.appendingFrom.set(id, writer.size());
    try {
      const digester = this.runningHash(id, writer, algorithm);
      if (chunk) await this.write(writer, chunk.body, chunk.bounds, digester);
      await finish(writer);
      return { writer, digester };
    } catch (error) {
      await writer.cancel();
      throw error;
    } finally {
      this.appendingFrom.delete(id);
    }
  }

  /** Streams a chunk into the writer, through the running hash when there is one; checks its declared bounds. */
  private async write(writer: FileWriter, body: Readable, bounds: ChunkBounds, digester: Digester | undefined): Promise<void> {
    const start = writer.size();
    if (bounds.start !== undefined && bounds.start !== start) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${bounds.start}, upload is at ${start}`, { offset: start });
    }
    if (digester === undefined) {
      await pipeline(body, writer.stream);
    } else {
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          digester.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(body, hashing, writer.stream);
    }
    const written = writer.size() - start;
    if (bounds.length !== undefined && written !== bounds.length) {
      throw new RegistryError('SIZE_INVALID', `chunk declared ${bounds.length} bytes, body had ${written}`);
    }
  }

  /**
   * The hash of the bytes the writer found, when this instance has it: always for an empty upload,
   * and for one it wrote last (same version). Undefined means the stored bytes are hashed at the end.
   */
  private runningHash(id: string, writer: FileWriter, algorithm: DigestAlgorithm): Digester | undefined {
    if (writer.size() === 0) return Digester.create(algorithm);
    const cached = this.runningHashes.get(id);
    // A copy: a chunk that fails must not leave its bytes in the cached hash.
    if (cached && cached.version === writer.version() && cached.digester.algorithm === algorithm) return cached.digester.copy();
    return undefined;
  }

  private async hashStored(path: string, algorithm: DigestAlgorithm): Promise<Digest> {
    const digester = Digester.create(algorithm);
    await this.driver.copyTo(path, digester.sink());
    return digester.digest();
  }

  private remember(id: string, version: string, digester: Digester | undefined): void {
    this.runningHashes.delete(id);
    if (digester === undefined) return;
    if (this.runningHashes.size >= MAX_CACHED_HASH_STATES) {
      this.runningHashes.delete(this.runningHashes.keys().next().value as string);
    }
    this.runningHashes.set(id, { version, digester });
  }

  /** One request at a time may write a session: two interleaved appends would corrupt it. */
  private async exclusively<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing this upload', { id });
    this.busy.add(id);
    try {
      return await work();
    } finally {
      this.busy.delete(id);
    }
  }
}
