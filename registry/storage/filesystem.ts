import { randomBytes } from 'node:crypto';
import { readFile as readFileWithCallback, type Stats, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';
import { checkPath, checkRange } from './driver-arguments.js';

// Blobs are large and sequential; big chunks mean fewer syscalls and event-loop turns.
const STREAM_CHUNK_SIZE = 1024 * 1024;
// fs/promises' readFile takes twice as long for a small file (each step is its own promise);
// a reindex reads a million tag links.
const readFile = promisify(readFileWithCallback);

/** A storage driver that keeps objects as files under a root directory. */
export class FilesystemDriver implements StorageDriver {
  readonly name: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.name = `filesystem:${this.root}`;
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const stats = await statOrUndefined(this.fullPath(path));
    if (stats === undefined) return undefined;
    const isDirectory = stats.isDirectory();
    // A directory's own size is a filesystem detail; report 0 as the other drivers do.
    return { path, size: isDirectory ? 0 : stats.size, modTime: stats.mtime, isDirectory };
  }

  async getContent(path: string): Promise<Buffer> {
    try {
      return await readFile(this.fullPath(path));
    } catch (error) {
      // A folder holds no content of its own: to a caller it is as absent as a missing file.
      if (isMissing(error) || errorCode(error) === 'EISDIR') throw new PathNotFoundError(path);
      throw error;
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const file = this.fullPath(path);
    await mkdir(dirname(file), { recursive: true });
    // rename within one directory is atomic, so readers see the old file or the new one.
    const temporary = join(dirname(file), `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temporary, content, { flag: 'wx' });
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async copyTo(path: string, destination: Writable, offset = 0, length?: number): Promise<void> {
    checkRange(offset, length);
    // Opening first turns a missing file into PathNotFoundError before anything is written.
    const handle = await openOrNotFound(this.fullPath(path), path);
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw new PathNotFoundError(path);
      const end = length === undefined ? stats.size : Math.min(stats.size, offset + length);
      await copyRange(handle, destination, offset, end);
    } finally {
      await handle.close();
    }
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const file = this.fullPath(path);
    await mkdir(dirname(file), { recursive: true });
    const appendsToExisting = append && (await statOrUndefined(file)) !== undefined;
    const handle = await open(file, append ? 'a' : 'w');
    try {
      const initialSize = append ? (await handle.stat()).size : 0;
      return new FilesystemFileWriter(file, handle, initialSize, appendsToExisting);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async list(path: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.fullPath(path));
    } catch (error) {
      if (isMissing(error)) throw new PathNotFoundError(path);
      throw error;
    }
    const prefix = path === '/' ? '/' : `${path}/`;
    return names.sort().map((name) => prefix + name);
  }

  async move(from: string, to: string): Promise<void> {
    const source = this.fullPath(from);
    const destination = this.fullPath(to);
    // Checked before mkdir so a failed move leaves no empty destination folders behind.
    if ((await statOrUndefined(source)) === undefined) throw new PathNotFoundError(from);
    await mkdir(dirname(destination), { recursive: true });
    try {
      await rename(source, destination);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new PathNotFoundError(from);
      throw error;
    }
  }

  async delete(path: string): Promise<void> {
    try {
      await rm(this.fullPath(path), { recursive: true });
    } catch (error) {
      if (isMissing(error)) throw new PathNotFoundError(path);
      throw error;
    }
  }

  private fullPath(path: string): string {
    checkPath(path);
    return join(this.root, path);
  }
}

/** A FileWriter over an open file: cancel truncates back to the size at open, or unlinks a new file. */
class FilesystemFileWriter implements FileWriter {
  readonly stream: WriteStream;

  constructor(
    private readonly file: string,
    handle: FileHandle,
    private readonly initialSize: number,
    private readonly appendsToExisting: boolean,
  ) {
    this.stream = handle.createWriteStream({ highWaterMark: STREAM_CHUNK_SIZE });
  }

  size(): number {
    return this.initialSize + this.stream.bytesWritten;
  }

  // Appends with O_APPEND cannot overwrite each other, so equal sizes mean equal content.
  version(): string {
    return String(this.size());
  }

  // A closed file is as whole as a committed one: later writers append to it.
  close(): Promise<void> {
    return this.commit();
  }

  async commit(): Promise<void> {
    // end() on a destroyed stream would make finished() resolve as if the write had completed.
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
    // Waits until the file is flushed and closed; rejects if the stream failed.
    await finished(this.stream);
    // finished() resolves for an fs stream destroyed without an error, so check it really finished.
    if (!this.stream.writableFinished) throw new Error(`writing ${this.file} was aborted before it finished`);
  }

  async cancel(): Promise<void> {
    // Wait for the file to close: a write still in flight would otherwise land after the truncate.
    if (!this.stream.closed) {
      const closed = new Promise<void>((resolve) => this.stream.once('close', resolve));
      this.stream.destroy();
      await closed;
    }
    if (this.appendsToExisting) await truncate(this.file, this.initialSize);
    else await rm(this.file, { force: true });
  }
}

/**
 * Copies bytes [start, end) of a file with two buffers: one is read into while the other is being
 * written, and a buffer is read into again only after its write's callback.
 */
async function copyRange(handle: FileHandle, destination: Writable, start: number, end: number): Promise<void> {
  const size = Math.min(STREAM_CHUNK_SIZE, end - start);
  if (size <= 0) return;
  const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
  let previousWrite: Promise<void> = Promise.resolve();
  let position = start;
  for (let turn = 0; position < end; turn ^= 1) {
    const buffer = buffers[turn]!;
    const { bytesRead } = await handle.read(buffer, 0, Math.min(size, end - position), position);
    if (bytesRead === 0) break; // the file is shorter than it was at stat: send what there is
    position += bytesRead;
    await previousWrite;
    previousWrite = writeChunk(destination, buffer.subarray(0, bytesRead));
  }
  await previousWrite;
}

function writeChunk(destination: Writable, chunk: Buffer): Promise<void> {
  const written = new Promise<void>((resolve, reject) => destination.write(chunk, (error) => (error ? reject(error) : resolve())));
  // Awaited on the next turn; this keeps a failed write from counting as unhandled meanwhile.
  written.catch(() => {});
  return written;
}

async function openOrNotFound(file: string, path: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    if (isMissing(error)) throw new PathNotFoundError(path);
    throw error;
  }
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

// ENOTDIR: a file stands where the path expects a folder, so nothing can be at the path.
function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
