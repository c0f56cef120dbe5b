import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import type { S3StorageOptions } from './s3-options.js';

// DeleteObjects takes at most this many keys per request.
const DELETE_BATCH = 1000;

/**
 * One bucket (and key prefix) through one S3 client: the requests the S3 driver and its writer
 * share, with driver paths mapped to keys (`/a/b` → `PREFIX/a/b`).
 */
export class S3Bucket {
  readonly client: S3Client;
  readonly name: string;
  private readonly keyPrefix: string;

  constructor(readonly options: S3StorageOptions) {
    const checksums = options.checksums === 'required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    // Credentials and, unless given, the region come from the AWS chain: environment, ~/.aws, instance roles.
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
    });
    this.name = options.bucket;
    this.keyPrefix = options.prefix === '' ? '' : `${options.prefix}/`;
  }

  /** The key of a driver path; `/` is the prefix itself, as a folder (`PREFIX/` or ''). */
  key(path: string): string {
    return path === '/' ? this.keyPrefix : this.keyPrefix + path.slice(1);
  }

  /** The object's size and time, or undefined when there is none. */
  async head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** A small object's bytes and ETag, or undefined when there is none. */
  async get(key: string): Promise<{ content: Buffer; etag: string; modTime: Date } | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
      const content = Buffer.from(await response.Body!.transformToByteArray());
      checkLength(key, content.length, response.ContentLength);
      return { content, etag: response.ETag ?? '', modTime: response.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Stores a small object in one request (atomic on S3: readers see the old object or the new). */
  async put(key: string, content: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: content, ContentLength: content.length }));
  }

  /** The keys and sub-folders directly under `folderKey` (which ends with `/`, or is '' for the root), in order. */
  async *children(folderKey: string, pageSize?: number): AsyncGenerator<{ name: string; isFolder: boolean; size: number; modTime?: Date }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, Prefix: folderKey, Delimiter: '/', ContinuationToken: token, MaxKeys: pageSize }),
      );
      const entries = [
        ...(page.Contents ?? []).map((o) => ({ name: o.Key!.slice(folderKey.length), isFolder: false, size: o.Size ?? 0, modTime: o.LastModified })),
        ...(page.CommonPrefixes ?? []).map((p) => ({ name: p.Prefix!.slice(folderKey.length, -1), isFolder: true, size: 0 })),
      ];
      yield* entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      // A page size asks for one page: callers that pass one only peek.
      token = pageSize === undefined && page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** Every key starting with `prefix`, at any depth. */
  async *keysUnder(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) yield object.Key!;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** Deletes keys, a thousand per request; missing ones are no error. */
  async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const result = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      const failed = result.Errors ?? [];
      if (failed.length > 0) throw new Error(`deleting ${failed[0]!.Key} from bucket ${this.name}: ${failed[0]!.Code} ${failed[0]!.Message}`);
    }
  }

  /** Starts a multipart upload of the object at `key`; returns its upload ID. */
  async createUpload(key: string): Promise<string> {
    return (await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key }))).UploadId!;
  }

  /** Completes a multipart upload from its parts' ETags, part 1 first. */
  async completeUpload(key: string, uploadId: string, etags: readonly string[]): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.name,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
  }

  /** Aborts a multipart upload; one already gone is no error. */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Whether an SDK error says the key, or the multipart upload, does not exist. */
export function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || $metadata?.httpStatusCode === 404;
}

/** Throws unless an object came back with the length the server announced: a cut or framed body is never data. */
export function checkLength(key: string, received: number, expected: number | undefined): void {
  if (expected !== undefined && received !== expected) {
    throw new Error(`S3 object ${key}: received ${received} bytes, the server announced ${expected}`);
  }
}
