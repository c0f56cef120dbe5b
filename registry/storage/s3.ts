import type { Writable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PathNotFoundError, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';
import { checkPath, checkRange } from './driver-arguments.js';
import { S3Bucket, checkLength, isNotFound } from './s3-bucket.js';
import { copyObject } from './s3-copy.js';
import type { S3StorageOptions } from './s3-options.js';
import { openS3Writer, parseMarkerKey, readUploadState, stateKey } from './s3-writer.js';

// Long enough for a slow client to start a large layer, short enough that a leaked URL soon dies.
const REDIRECT_EXPIRY_SECONDS = 15 * 60;
// A folder's own listing shows at most a state, two staged tails and a marker before any real child.
const PEEK_ENTRIES = 5;

/**
 * A storage driver over an S3 bucket (AWS or S3-compatible). Objects are keys; folders are key
 * prefixes. Writes that a later writer continues are S3 multipart uploads whose state lives beside
 * the object in the bucket (see s3-writer.ts), so any instance can continue them.
 */
export class S3Driver implements StorageDriver {
  readonly name: string;
  private readonly bucket: S3Bucket;

  constructor(readonly options: S3StorageOptions) {
    this.bucket = new S3Bucket(options);
    this.name = `s3:${options.bucket}${options.prefix === '' ? '' : `/${options.prefix}`}`;
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const key = this.key(path);
    if (path === '/') return { path, size: 0, modTime: new Date(0), isDirectory: true };
    const object = await this.bucket.head(key);
    if (object !== undefined) return { path, size: object.ContentLength ?? 0, modTime: object.LastModified ?? new Date(0), isDirectory: false };
    let unfinished = false;
    for await (const child of this.bucket.children(`${key}/`, PEEK_ENTRIES)) {
      if (!isInternal(child.name)) return { path, size: 0, modTime: child.modTime ?? new Date(0), isDirectory: true };
      if (`${key}/${child.name}` === stateKey(key)) unfinished = true;
    }
    if (!unfinished) return undefined;
    const state = await readUploadState(this.bucket, key);
    return state && { path, size: state.size, modTime: state.modTime, isDirectory: false };
  }

  async getContent(path: string): Promise<Buffer> {
    const stored = await this.bucket.get(this.key(path));
    if (stored === undefined) throw new PathNotFoundError(path);
    return stored.content;
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    await this.bucket.put(this.key(path), content);
  }

  async copyTo(path: string, destination: Writable, offset = 0, length?: number): Promise<void> {
    checkRange(offset, length);
    const key = this.key(path);
    if (length === 0) {
      if ((await this.bucket.head(key)) === undefined) throw new PathNotFoundError(path);
      return;
    }
    const range = offset === 0 && length === undefined ? undefined : `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
    let response;
    try {
      response = await this.bucket.client.send(new GetObjectCommand({ Bucket: this.bucket.name, Key: key, Range: range }));
    } catch (error) {
      if (isNotFound(error)) throw new PathNotFoundError(path);
      // A range starting at or past the end holds nothing, as a file read there gives nothing.
      if ((error as { name?: string }).name === 'InvalidRange') return;
      throw error;
    }
    const body = response.Body as NodeJS.ReadableStream & AsyncIterable<Buffer> & { destroy(): void };
    if (length !== undefined && (response.ContentLength ?? 0) > length) {
      body.destroy();
      throw new Error(`S3 object ${key}: asked for ${length} bytes from ${offset}, the server answered ${response.ContentLength} (Range ignored)`);
    }
    let received = 0;
    try {
      for await (const chunk of body) {
        received += chunk.length;
        await new Promise<void>((resolve, reject) => destination.write(chunk, (error) => (error ? reject(error) : resolve())));
      }
    } finally {
      // Frees the connection when the destination failed mid-way.
      body.destroy();
    }
    checkLength(key, received, response.ContentLength);
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    return openS3Writer(this.bucket, this.key(path), append);
  }

  async list(path: string): Promise<string[]> {
    const key = this.key(path);
    const prefix = path === '/' ? '/' : `${path}/`;
    // A Set: an object and the folder of its unfinished write's state may share a name.
    const children = new Set<string>();
    for await (const child of this.bucket.children(path === '/' ? key : `${key}/`)) {
      if (!isInternal(child.name)) children.add(prefix + child.name);
    }
    if (children.size === 0 && path !== '/') throw new PathNotFoundError(path);
    return [...children];
  }

  async move(from: string, to: string): Promise<void> {
    const [source, target] = [this.key(from), this.key(to)];
    if (source === target) {
      if ((await this.bucket.head(source)) === undefined) throw new PathNotFoundError(from);
      return;
    }
    let copied;
    try {
      copied = await copyObject(this.bucket, source, target);
    } catch (error) {
      if (isNotFound(error)) throw new PathNotFoundError(from);
      throw error;
    }
    if (!copied) throw new PathNotFoundError(from);
    await this.bucket.deleteKeys([source]);
  }

  async delete(path: string): Promise<void> {
    const key = this.key(path);
    const doomed = path !== '/' && (await this.bucket.head(key)) !== undefined ? [key] : [];
    for await (const below of this.bucket.keysUnder(path === '/' ? key : `${key}/`)) doomed.push(below);
    if (doomed.length === 0) throw new PathNotFoundError(path);
    // Unfinished writes below are multipart uploads that storage would otherwise keep paying for.
    for (const marker of doomed.map(parseMarkerKey)) {
      if (marker !== undefined) await this.bucket.abortUpload(marker.key, marker.uploadId);
    }
    await this.bucket.deleteKeys(doomed);
  }

  async redirectUrl(path: string): Promise<string | undefined> {
    if (!this.options.redirect) return undefined;
    const command = new GetObjectCommand({ Bucket: this.bucket.name, Key: this.key(path) });
    return getSignedUrl(this.bucket.client, command, { expiresIn: REDIRECT_EXPIRY_SECONDS });
  }

  private key(path: string): string {
    checkPath(path);
    return this.bucket.key(path);
  }
}

/** Whether a name under a folder is the driver's own (an upload's state, staged bytes or marker). */
function isInternal(name: string): boolean {
  return name.startsWith('.');
}
