import { CopyObjectCommand, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { mapConcurrently } from '../../shared/concurrency.js';
import type { S3Bucket } from './s3-bucket.js';
import { MAX_PARTS } from './s3-options.js';

/**
 * Copies the object at `source` to `target` inside the bucket, server-side: the bytes never pass
 * through the registry. Objects up to `multipartCopyThresholdSize` take one CopyObject (which S3
 * limits to 5 GiB); larger ones a multipart upload of UploadPartCopy parts, as CNCF distribution's
 * s3 driver does. Returns false, copying nothing, when there is no object at `source`.
 */
export async function copyObject(bucket: S3Bucket, source: string, target: string): Promise<boolean> {
  const size = (await bucket.head(source))?.ContentLength;
  if (size === undefined) return false;
  const copySource = `${bucket.name}/${encodeURIComponent(source).replaceAll('%2F', '/')}`;
  if (size <= bucket.options.multipartCopyThresholdSize) {
    await bucket.client.send(new CopyObjectCommand({ Bucket: bucket.name, Key: target, CopySource: copySource }));
  } else {
    await copyInParts(bucket, copySource, target, size);
  }
  return true;
}

/** The part size of a multipart copy: the configured one, or larger when that would take more than S3's 10,000 parts. */
export function copyPartSize(size: number, chunkSize: number): number {
  return Math.max(chunkSize, Math.ceil(size / MAX_PARTS));
}

/**
 * Copies `size` bytes in parts all of one size but the last (as R2 requires), at most
 * `multipartCopyMaxConcurrency` at once; any failure aborts the upload, so no part is left to pay for.
 */
async function copyInParts(bucket: S3Bucket, copySource: string, target: string, size: number): Promise<void> {
  const { multipartCopyChunkSize, multipartCopyMaxConcurrency } = bucket.options;
  const partSize = copyPartSize(size, multipartCopyChunkSize);
  const uploadId = await bucket.createUpload(target);
  const copyPart = async (index: number) => {
    const first = index * partSize;
    const last = Math.min(size, first + partSize) - 1;
    const copied = await bucket.client.send(
      new UploadPartCopyCommand({ Bucket: bucket.name, Key: target, UploadId: uploadId, PartNumber: index + 1, CopySource: copySource, CopySourceRange: `bytes=${first}-${last}` }),
    );
    return copied.CopyPartResult!.ETag!;
  };
  try {
    // It settles every part in flight before it fails: the abort comes after the last part that could be added.
    const etags = await mapConcurrently(Array.from({ length: Math.ceil(size / partSize) }, (_, index) => index), multipartCopyMaxConcurrency, copyPart);
    await bucket.completeUpload(target, uploadId, etags);
  } catch (error) {
    // The copy's own error says more than the abort's; a lifecycle rule collects what an abort could not.
    await bucket.abortUpload(target, uploadId).catch(() => {});
    throw error;
  }
  // A server that ignored the ranges (copying whole objects) or lost a part shows in the size; the
  // wrong object goes, as it stands where a verified one should.
  const stored = (await bucket.head(target))?.ContentLength;
  if (stored !== size) {
    await bucket.deleteKeys([target]);
    throw new Error(`S3 object ${target} holds ${stored ?? 'no'} bytes after a multipart copy of ${size}: the server may not support UploadPartCopy ranges`);
  }
}
