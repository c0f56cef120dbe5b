import type { Writable } from 'node:stream';

/**
 * A storage driver: the handful of operations the registry needs from a place that holds bytes
 * (a filesystem, memory, S3). Paths are '/'-separated and absolute within the driver, e.g.
 * `/blobs/sha256/ab/ab12…/data`. Everything above this interface is driver-agnostic.
 */
export interface StorageDriver {
  /** A short name for logs and errors, e.g. `filesystem:/var/lib/wharf`. */
  readonly name: string;
  /** Size of the object at path, or whether it is a folder; undefined when nothing is there. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** The whole content of a small object; throws PathNotFoundError. */
  getContent(path: string): Promise<Buffer>;
  /** Writes a small object atomically: readers see the old content or the new, never a part. */
  putContent(path: string, content: Uint8Array): Promise<void>;
  /**
   * Writes `length` bytes (default: to the end) from `offset` into `destination`, leaving it open.
   * Each chunk is written only after the previous write's callback, and its buffer may be reused
   * after its own callback, so a destination must not keep chunks (a socket or a hash does not).
   * Reusing buffers keeps a 1 GiB copy from allocating 1 GiB. Throws PathNotFoundError before writing.
   */
  copyTo(path: string, destination: Writable, offset?: number, length?: number): Promise<void>;
  /**
   * Opens an object for writing, appending to what is there when `append` is set: a committed
   * object, or the bytes a closed writer left.
   */
  writer(path: string, append: boolean): Promise<FileWriter>;
  /** Full paths of the direct children of a folder; throws PathNotFoundError. */
  list(path: string): Promise<string[]>;
  /** Moves an object atomically, replacing what is at `to`; throws PathNotFoundError. */
  move(from: string, to: string): Promise<void>;
  /** Deletes an object or a whole folder, with any unfinished write below it; throws PathNotFoundError. */
  delete(path: string): Promise<void>;
  /** A URL where a client may GET the object itself for a while, or undefined to serve it through the registry. */
  redirectUrl?(path: string): Promise<string | undefined>;
}

export interface FileInfo {
  readonly path: string;
  readonly size: number;
  readonly modTime: Date;
  readonly isDirectory: boolean;
}

/**
 * An object being written. Nothing is final until close or commit; cancel undoes everything written.
 * An object store cannot append, so a closed object may be unreadable (S3 keeps it as a multipart
 * upload): stat reports its size, and only a commit makes it readable.
 */
export interface FileWriter {
  /** Where the bytes go; end it (or let pipeline end it) before close or commit. */
  readonly stream: Writable;
  /** Bytes in the object: what was there when opened plus what was written. */
  size(): number;
  /**
   * Names the content: at open, what the writer found; after close or commit, what it left. Two
   * writers agreeing on it means nobody wrote in between (a driver whose appends cannot race, as
   * O_APPEND files cannot, may use the size).
   */
  version(): string;
  /** Makes the written bytes durable, leaving the object open: a writer with `append` continues it. */
  close(): Promise<void>;
  /** Makes the written bytes durable and the object whole and readable. */
  commit(): Promise<void>;
  /** Undoes this writer: a new object disappears, an appended one returns to its content at open. */
  cancel(): Promise<void>;
}

/** Raised for a path that does not exist. */
export class PathNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`path not found: ${path}`);
  }
}
