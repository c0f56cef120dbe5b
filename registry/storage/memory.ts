import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';
import { checkPath, checkRange } from './driver-arguments.js';

// Copies hand over chunks of this size, as the filesystem driver does.
const COPY_CHUNK_SIZE = 1024 * 1024;

interface StoredObject {
  readonly data: Buffer;
  readonly modTime: Date;
}

/** A storage driver that keeps objects in a Map, for tests; folders are implied by object paths. */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  private readonly objects = new Map<string, StoredObject>();

  async stat(path: string): Promise<FileInfo | undefined> {
    checkPath(path);
    const object = this.objects.get(path);
    if (object !== undefined) return { path, size: object.data.length, modTime: object.modTime, isDirectory: false };
    const descendants = this.objectsUnder(path);
    if (descendants.length === 0 && path !== '/') return undefined;
    // A folder changes when anything in it does, so it is as new as its newest object.
    const newest = Math.max(0, ...descendants.map(([, { modTime }]) => modTime.getTime()));
    return { path, size: 0, modTime: new Date(newest), isDirectory: true };
  }

  async getContent(path: string): Promise<Buffer> {
    return Buffer.from(this.objectAt(path).data);
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    checkPath(path);
    // Copied so the caller can reuse its buffer; one Map.set is atomic to every reader.
    this.objects.set(path, { data: Buffer.from(content), modTime: new Date() });
  }

  async copyTo(path: string, destination: Writable, offset = 0, length?: number): Promise<void> {
    checkRange(offset, length);
    const { data } = this.objectAt(path);
    const end = length === undefined ? data.length : Math.min(data.length, offset + length);
    for (let position = offset; position < end; position += COPY_CHUNK_SIZE) {
      const chunk = data.subarray(position, Math.min(end, position + COPY_CHUNK_SIZE));
      await new Promise<void>((resolve, reject) => destination.write(chunk, (error) => (error ? reject(error) : resolve())));
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(path);
    const existing = append ? this.objects.get(path) : undefined;
    return new MemoryFileWriter(this.objects, path, existing?.data);
  }

  async list(path: string): Promise<string[]> {
    checkPath(path);
    const prefix = path === '/' ? '/' : `${path}/`;
    const children = new Set<string>();
    for (const [objectPath] of this.objectsUnder(path)) {
      const childName = objectPath.slice(prefix.length).split('/')[0];
      children.add(prefix + childName);
    }
    if (children.size === 0 && path !== '/') throw new PathNotFoundError(path);
    return [...children].sort();
  }

  async move(from: string, to: string): Promise<void> {
    checkPath(to);
    const object = this.objectAt(from);
    if (from === to) return;
    this.objects.set(to, object);
    this.objects.delete(from);
  }

  async delete(path: string): Promise<void> {
    checkPath(path);
    const doomed = this.objectsUnder(path).map(([objectPath]) => objectPath);
    if (this.objects.has(path)) doomed.push(path);
    if (doomed.length === 0) throw new PathNotFoundError(path);
    for (const objectPath of doomed) this.objects.delete(objectPath);
  }

  private objectAt(path: string): StoredObject {
    checkPath(path);
    const object = this.objects.get(path);
    if (object === undefined) throw new PathNotFoundError(path);
    return object;
  }

  private objectsUnder(folder: string): [string, StoredObject][] {
    const prefix = folder === '/' ? '/' : `${folder}/`;
    return [...this.objects].filter(([objectPath]) => objectPath.startsWith(prefix));
  }
}

/**
 * A FileWriter that buffers what is written and stores it on commit, as an object store would:
 * until then the object keeps its content at open. Cancelling a writer that did not append
 * removes the object, matching the filesystem driver, which truncates it at open.
 */
class MemoryFileWriter implements FileWriter {
  readonly stream: Writable;
  private readonly chunks: Buffer[] = [];
  private bytesWritten = 0;

  constructor(
    private readonly objects: Map<string, StoredObject>,
    private readonly path: string,
    private readonly appendedTo: Buffer | undefined,
  ) {
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.chunks.push(chunk);
        this.bytesWritten += chunk.length;
        callback();
      },
    });
  }

  size(): number {
    return (this.appendedTo?.length ?? 0) + this.bytesWritten;
  }

  // One process holds the Map, and UploadSessions lets one writer at a time at an object.
  version(): string {
    return String(this.size());
  }

  close(): Promise<void> {
    return this.commit();
  }

  async commit(): Promise<void> {
    // end() on a destroyed stream would make finished() resolve as if the write had completed.
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
    await finished(this.stream);
    const data = Buffer.concat(this.appendedTo === undefined ? this.chunks : [this.appendedTo, ...this.chunks]);
    this.objects.set(this.path, { data, modTime: new Date() });
  }

  async cancel(): Promise<void> {
    this.stream.destroy();
    if (this.appendedTo === undefined) this.objects.delete(this.path);
  }
}
