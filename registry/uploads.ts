import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, splitDigest, type Digest, type DigestAlgorithm } from '../shared/digest.js';
import type { BlobStore } from './blob-store.js';
import { RegistryError } from './errors.js';
import { PathNotFoundError, type StorageDriver } from './storage/driver.js';
import { StoragePaths } from './storage/paths.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Hash states kept in memory only to skip re-reading an upload; losing one costs a re-hash, never data.
const MAX_CACHED_HASH_STATES = 4096;

/** Where a chunk must start, and how long it says it is, from Content-Range / Content-Length. */
export interface ChunkBounds {
  readonly start?: number;
  readonly length?: number;
}

/**
 * Blob upload sessions. A session is its stored bytes and start time, nothing else, so any
 * instance (or this one after a restart) can continue it; the running hash is cached here and
 * rebuilt from the stored bytes when the cache does not match.
 */
export class UploadSessions {
  private readonly hashStates = new Map<string, { offset: number; digester: Digester }>();
  private readonly busy = new Set<string>();
  // Where each chunk being written started: its bytes are in the file but not yet part of the session.
  private readonly appendingFrom = new Map<string, number>();

  constructor(private readonly driver: StorageDriver, private readonly blobs: BlobStore) {}

  /** Starts an empty session and returns its id. */
  async start(name: string): Promise<string> {
    const id = randomUUID();
    // Until its start time is stored, a purge would take the new session for a broken one.
    return this.exclusively(id, async () => {
      await this.driver.putContent(StoragePaths.uploadStartedAt(name, id), Buffer.from(new Date().toISOString()));
      await this.driver.putContent(StoragePaths.uploadData(name, id), Buffer.alloc(0));
      return id;
    });
  }

  /** Bytes received so far; a chunk still being written (and maybe rolled back) does not count yet. */
  async offset(name: string, id: string): Promise<number> {
    const info = UPLOAD_ID.test(id) ? await this.driver.stat(StoragePaths.uploadData(name, id)) : undefined;
    if (!info) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', undefined, { id });
    return this.appendingFrom.get(id) ?? info.size;
  }

  /** Appends a chunk streamed from `body`; returns the new offset. A failed chunk leaves the session as it was. */
  async append(name: string, id: string, body: Readable, bounds: ChunkBounds = {}, algorithm: DigestAlgorithm = 'sha256'): Promise<number> {
    const current = await this.offset(name, id);
    if (bounds.start !== undefined && bounds.start !== current) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${bounds.start}, upload is at ${current}`, { offset: current });
    }
    return this.exclusively(id, async () => {
      const writer = await this.driver.writer(StoragePaths.uploadData(name, id), true);
      const start = writer.size();
      const digester = await this.digesterAt(name, id, start, algorithm);
      this.hashStates.delete(id);
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          digester.update(chunk);
          done(null, chunk);
        },
      });
      this.appendingFrom.set(id, start);
      try {
        await pipeline(body, hashing, writer.stream);
        const written = writer.size() - start;
        if (bounds.length !== undefined && written !== bounds.length) {
          throw new RegistryError('SIZE_INVALID', `chunk declared ${bounds.length} bytes, body had ${written}`);
        }
        await writer.commit();
      } catch (error) {
        await writer.cancel();
        throw error;
      } finally {
        this.appendingFrom.delete(id);
      }
      this.remember(id, writer.size(), digester);
      return writer.size();
    });
  }

  /**
   * Finishes a session: verifies the bytes against `digest`, then makes them visible as that blob in
   * the repository. A mismatch ends the session and leaves nothing visible.
   */
  async complete(name: string, id: string, digest: Digest, finalChunk?: { body: Readable; bounds: ChunkBounds }): Promise<void> {
    const [algorithm] = splitDigest(digest);
    const size = finalChunk
      ? await this.append(name, id, finalChunk.body, finalChunk.bounds, algorithm)
      : await this.offset(name, id);
    await this.exclusively(id, async () => {
      const actual = (await this.digesterAt(name, id, size, algorithm)).digest();
      if (actual !== digest) {
        await this.cancel(name, id);
        throw new RegistryError('DIGEST_INVALID', `upload has digest ${actual}, not ${digest}`, { digest });
      }
      await this.blobs.commit(name, digest, StoragePaths.uploadData(name, id));
      await this.cancel(name, id);
    });
  }

  /** Ends a session and deletes what it received. */
  async cancel(name: string, id: string): Promise<void> {
    this.hashStates.delete(id);
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
      let sessions: string[];
      try {
        sessions = await this.driver.list(StoragePaths.uploadsRoot(name));
      } catch (error) {
        if (error instanceof PathNotFoundError) continue;
        throw error;
      }
      for (const session of sessions) {
        const id = session.slice(session.lastIndexOf('/') + 1);
        if (this.busy.has(id)) continue;
        const startedAt = await this.startedAt(name, id);
        if (startedAt === undefined || startedAt < olderThan) {
          await this.driver.delete(session).catch((error) => {
            if (!(error instanceof PathNotFoundError)) throw error;
          });
          this.hashStates.delete(id);
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

  /** The hash of the first `offset` stored bytes: from the cache when it matches, else by re-reading them. */
  private async digesterAt(name: string, id: string, offset: number, algorithm: DigestAlgorithm): Promise<Digester> {
    const cached = this.hashStates.get(id);
    if (cached && cached.offset === offset && cached.digester.algorithm === algorithm) return cached.digester.copy();
    const digester = Digester.create(algorithm);
    if (offset > 0) await this.driver.copyTo(StoragePaths.uploadData(name, id), digester.sink(), 0, offset);
    return digester;
  }

  private remember(id: string, offset: number, digester: Digester): void {
    if (this.hashStates.size >= MAX_CACHED_HASH_STATES) {
      this.hashStates.delete(this.hashStates.keys().next().value as string);
    }
    this.hashStates.set(id, { offset, digester });
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
