import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { GetObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { FileWriter } from './driver.js';
import { checkLength, type S3Bucket } from './s3-bucket.js';

/**
 * What an unfinished object is, kept in the bucket beside it (`KEY/.upload`) so that any instance
 * can continue it: the multipart upload and its parts, all `partSize` bytes, and the staged object
 * holding the bytes after the last part (fewer than a part, which S3 would refuse).
 */
export interface UploadState {
  readonly uploadId?: string;
  readonly partSize: number;
  /** ETags of parts 1…n. */
  readonly parts: readonly string[];
  readonly size: number;
  /** Name of the staged object under KEY/, when there are bytes after the parts. */
  readonly tail?: string;
  /** New with every save, so a writer can tell whether anyone wrote since it looked. */
  readonly version: string;
}

/** The key of an object's upload state. */
export function stateKey(key: string): string {
  return `${key}/.upload`;
}

const MARKER = '.multipart-';
// A writer's buffer starts this small and doubles up to a part.
const MIN_BUFFER = 64 * 1024;

/**
 * The key marking a multipart upload of the object at `key` from its creation to its end, so that
 * deleting the object's folder finds and aborts it (ListMultipartUploads is optional on S3-compatible servers).
 */
function markerKey(key: string, uploadId: string): string {
  return `${key}/${MARKER}${encodeURIComponent(uploadId)}`;
}

/** The object key and upload ID a marker key names, or undefined for any other key. */
export function parseMarkerKey(marker: string): { key: string; uploadId: string } | undefined {
  const at = marker.lastIndexOf(`/${MARKER}`);
  if (at < 0) return undefined;
  return { key: marker.slice(0, at), uploadId: decodeURIComponent(marker.slice(at + MARKER.length + 1)) };
}

/** The upload state of the object at `key`, or undefined when it has no unfinished write. */
export async function readUploadState(bucket: S3Bucket, key: string): Promise<(UploadState & { modTime: Date }) | undefined> {
  const stored = await bucket.get(stateKey(key));
  if (stored === undefined) return undefined;
  return { ...(JSON.parse(stored.content.toString()) as UploadState), modTime: stored.modTime };
}

/** Aborts an object's multipart upload and removes its state and staged bytes. */
async function discardUpload(bucket: S3Bucket, key: string, state: UploadState): Promise<void> {
  const keys = [stateKey(key)];
  if (state.tail !== undefined) keys.push(`${key}/${state.tail}`);
  if (state.uploadId !== undefined) {
    await bucket.abortUpload(key, state.uploadId);
    keys.push(markerKey(key, state.uploadId));
  }
  await bucket.deleteKeys(keys);
}

/**
 * How a writer relates to what was at its key: a new object (opened without append), the
 * continuation of an unfinished write, or an append to a committed object (copied into the write).
 */
type Mode = 'new' | 'continue' | 'appendObject';

/**
 * Opens a writer on the object at `key`. Appending continues its unfinished write, or the
 * committed object there (whose bytes are copied into the new write).
 */
export async function openS3Writer(bucket: S3Bucket, key: string, append: boolean): Promise<FileWriter> {
  const saved = await readUploadState(bucket, key);
  const fresh = (size: number, version: string): UploadState => ({ partSize: bucket.options.partSize, parts: [], size, version });
  if (!append) {
    if (saved !== undefined) await discardUpload(bucket, key, saved);
    return new S3FileWriter(bucket, key, fresh(0, 'new'), 'new');
  }
  if (saved !== undefined) {
    const writer = new S3FileWriter(bucket, key, saved, 'continue');
    if (saved.tail !== undefined) await writer.absorb(`${key}/${saved.tail}`);
    return writer;
  }
  const committed = await bucket.head(key);
  if (committed === undefined) return new S3FileWriter(bucket, key, fresh(0, 'none'), 'continue');
  const writer = new S3FileWriter(bucket, key, fresh(committed.ContentLength ?? 0, `object ${committed.ETag}`), 'appendObject');
  await writer.absorb(key);
  return writer;
}

/**
 * Writes parts of `partSize` bytes as they fill, one uploading while the next fills (two buffers
 * per writer, whatever the object's size). close() stages what is left in the bucket and saves the
 * state; commit() sends it as the last part and completes the upload.
 */
class S3FileWriter implements FileWriter {
  readonly stream: Writable;
  private readonly partSize: number;
  private uploadId: string | undefined;
  private readonly parts: string[];
  private pending: Buffer | undefined;
  private spare: Buffer | undefined;
  private filled = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private written = 0;
  private currentVersion: string;
  private createdUpload = false;

  constructor(
    private readonly bucket: S3Bucket,
    private readonly key: string,
    private readonly start: UploadState,
    private readonly mode: Mode,
  ) {
    this.partSize = start.partSize;
    this.uploadId = start.uploadId;
    this.parts = [...start.parts];
    this.currentVersion = start.version;
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.written += chunk.length;
        this.accept(chunk).then(() => done(), done);
      },
    });
  }

  size(): number {
    return this.start.size + this.written;
  }

  version(): string {
    return this.currentVersion;
  }

  /** Takes in bytes that are already in the bucket (a staged tail, or the committed object appended to). */
  async absorb(key: string): Promise<void> {
    const response = await this.bucket.client.send(new GetObjectCommand({ Bucket: this.bucket.name, Key: key }));
    let received = 0;
    for await (const chunk of response.Body as AsyncIterable<Buffer>) {
      received += chunk.length;
      await this.accept(chunk);
    }
    checkLength(key, received, response.ContentLength);
  }

  async close(): Promise<void> {
    await this.finishStream();
    if (this.mode === 'continue' && this.written === 0) return;
    const tail = this.filled === 0 ? undefined : `.tail-${randomBytes(8).toString('hex')}`;
    if (tail !== undefined) await this.bucket.put(`${this.key}/${tail}`, this.pending!.subarray(0, this.filled));
    const state: UploadState = { uploadId: this.uploadId, partSize: this.partSize, parts: this.parts, size: this.size(), tail, version: randomBytes(8).toString('hex') };
    await this.bucket.put(stateKey(this.key), Buffer.from(JSON.stringify(state)));
    this.currentVersion = state.version;
    // The state now says where every byte is: the old tail, and a committed object replaced, go.
    const stale = this.start.tail === undefined ? [] : [`${this.key}/${this.start.tail}`];
    await this.bucket.deleteKeys(this.mode === 'continue' ? stale : [...stale, this.key]);
  }

  async commit(): Promise<void> {
    await this.finishStream();
    const last = this.pending?.subarray(0, this.filled) ?? Buffer.alloc(0);
    if (this.uploadId === undefined) {
      await this.bucket.put(this.key, last);
    } else {
      if (last.length > 0) this.parts.push(await this.uploadPart(this.parts.length + 1, last));
      await this.bucket.completeUpload(this.key, this.uploadId, this.parts);
    }
    // A status code says the request arrived, not what was stored: a server that keeps aws-chunked
    // framing, or loses a part, shows in the size.
    const stored = (await this.bucket.head(this.key))?.ContentLength;
    if (stored !== this.size()) {
      throw new Error(
        `S3 object ${this.key} holds ${stored ?? 'no'} bytes after ${this.size()} were written: the server may not understand the SDK's checksums (use checksums=required)`,
      );
    }
    this.currentVersion = 'committed';
    const leftovers = [stateKey(this.key)];
    if (this.start.tail !== undefined) leftovers.push(`${this.key}/${this.start.tail}`);
    if (this.uploadId !== undefined) leftovers.push(markerKey(this.key, this.uploadId));
    await this.bucket.deleteKeys(leftovers);
  }

  async cancel(): Promise<void> {
    this.stream.destroy();
    await this.inFlight.catch(() => {});
    if (this.createdUpload) {
      await this.bucket.abortUpload(this.key, this.uploadId!);
      await this.bucket.deleteKeys([markerKey(this.key, this.uploadId!)]);
    }
    // Opening without append emptied the object, as truncating a file does.
    if (this.mode === 'new') await this.bucket.deleteKeys([this.key]);
  }

  private async finishStream(): Promise<void> {
    // end() on a destroyed stream would make finished() resolve as if the write had completed.
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
    await finished(this.stream);
    if (!this.stream.writableFinished) throw new Error(`writing S3 object ${this.key} was aborted before it finished`);
    await this.inFlight;
  }

  private async accept(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const copied = chunk.copy(this.room(), this.filled, offset, Math.min(chunk.length, offset + this.partSize - this.filled));
      this.filled += copied;
      offset += copied;
      if (this.filled === this.partSize) await this.sendPart();
    }
  }

  /** The buffer being filled, with room in it: small uploads (configs, small layers) do not cost a whole part of memory. */
  private room(): Buffer {
    const pending = this.pending;
    if (pending !== undefined && this.filled < pending.length) return pending;
    const grown = Buffer.allocUnsafe(Math.min(this.partSize, Math.max(MIN_BUFFER, 2 * (pending?.length ?? 0))));
    pending?.copy(grown, 0, 0, this.filled);
    return (this.pending = grown);
  }

  /** Starts uploading the full buffer as the next part once the previous part is done (its buffer is then free). */
  private async sendPart(): Promise<void> {
    await this.inFlight;
    if (this.uploadId === undefined) {
      this.uploadId = await this.bucket.createUpload(this.key);
      this.createdUpload = true;
      await this.bucket.put(markerKey(this.key, this.uploadId), new Uint8Array(0));
    }
    const body = this.pending!;
    this.pending = this.spare;
    this.spare = body;
    this.filled = 0;
    const index = this.parts.length;
    this.parts.push('');
    const uploading = this.uploadPart(index + 1, body).then((etag) => {
      this.parts[index] = etag;
    });
    uploading.catch(() => {}); // awaited by the next part, close, commit or cancel
    this.inFlight = uploading;
  }

  private async uploadPart(number: number, body: Buffer): Promise<string> {
    const response = await this.bucket.client.send(
      new UploadPartCommand({ Bucket: this.bucket.name, Key: this.key, UploadId: this.uploadId, PartNumber: number, Body: body, ContentLength: body.length }),
    );
    return response.ETag!;
  }
}
