// The s3rver process that test/support/s3-server.ts starts: s3rver 3.7 on 127.0.0.1 with its bugs
// and gaps that Wharf meets filled, as S3 behaves:
// - AbortMultipartUpload, which s3rver answers 405;
// - listing with a delimiter, where s3rver misses every common prefix whose objects all lie two or
//   more folders deeper (it never walks into such folders), so `repositories/` would list no
//   repository named `a/b`;
// - `Range: bytes=0-0`, which s3rver answers with the whole object (it reads the end 0 as "none");
// - UploadPartCopy, which s3rver 3.7 answers 501 (its main branch has it since 2021, never released).
// With --log it prints one line per request, `request: METHOD URL[ (copy[ RANGE])] STATUS` (s3rver's own
// request log cuts 16 characters off the front of each line, assuming a colored prefix it does not print here).
// Usage: node s3rver-main.js DIRECTORY [--log]
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface KoaContext {
  method: string;
  url: string;
  path: string;
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  startAfter?: string;
}
interface Listing {
  objects: { key: string }[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface StoredObject {
  content: Readable | null;
  range?: { start: number; end: number };
}
interface S3rverApp {
  middleware: Middleware[];
  store: {
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    listObjects(bucket: string, options: ListOptions): Promise<Listing>;
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<StoredObject | null>;
    putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ md5: string }>;
  };
  run(): Promise<{ address: string; port: number }>;
}

const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rverApp;
const [directory, flag] = process.argv.slice(2);
if (directory === undefined) throw new Error('usage: s3rver-main.js DIRECTORY [--log]');

const app = new S3rver({ directory, address: '127.0.0.1', port: 0, silent: true, vhostBuckets: false });

/** Answers with an S3 error document. */
function fail(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** The bucket a path-style request is for. */
function bucketOf(ctx: KoaContext): string {
  return ctx.path.split('/')[1]!;
}

/** Where s3rver keeps the parts of an upload (BUCKET/._S3rver_uploads/ID), or undefined when there is no such upload. */
function uploadFolder(ctx: KoaContext, uploadId: string): string | undefined {
  const folder = join(app.store.getResourcePath(bucketOf(ctx), undefined, 'uploads'), uploadId);
  return /^[0-9a-f]+$/.test(uploadId) && existsSync(folder) ? folder : undefined;
}

/** DELETE /BUCKET/KEY?uploadId=ID: removes the parts s3rver keeps for the upload, as S3 does. */
const abortMultipartUpload: Middleware = async (ctx, next) => {
  const uploadId = ctx.query.uploadId;
  if (ctx.method !== 'DELETE' || uploadId === undefined) return next();
  const parts = uploadFolder(ctx, uploadId);
  if (parts === undefined) return fail(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  await rm(parts, { recursive: true, force: true });
  ctx.status = 204;
};

/**
 * PUT /BUCKET/KEY?partNumber=N&uploadId=ID with x-amz-copy-source (and x-amz-copy-source-range
 * `bytes=FIRST-LAST`, inclusive): stores bytes of another object as the part, as S3 does.
 */
const uploadPartCopy: Middleware = async (ctx, next) => {
  const { uploadId, partNumber } = ctx.query;
  const copySource = ctx.headers['x-amz-copy-source'];
  if (ctx.method !== 'PUT' || uploadId === undefined || partNumber === undefined || copySource === undefined) return next();
  if (uploadFolder(ctx, uploadId) === undefined) return fail(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  if (!/^\d+$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10_000) {
    return fail(ctx, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
  }
  const [sourceBucket, ...sourceKey] = decodeURIComponent(copySource.replace(/^\//, '').split('?')[0]!).split('/');
  const object = app.store.getResourcePath(sourceBucket!, sourceKey.join('/'), 'object');
  const size = await stat(object).then((info) => info.size, () => undefined);
  if (size === undefined) return fail(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
  const rangeHeader = ctx.headers['x-amz-copy-source-range'];
  const range = rangeHeader === undefined ? [0, size - 1] : /^bytes=(\d+)-(\d+)$/.exec(rangeHeader)?.slice(1).map(Number);
  if (range === undefined) {
    return fail(ctx, 400, 'InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
  }
  const [first, last] = range as [number, number];
  if (first > last || last >= size) return fail(ctx, 416, 'InvalidRange', 'The requested range is not satisfiable');
  const { md5 } = await app.store.putPart(bucketOf(ctx), uploadId, Number(partNumber), createReadStream(object, { start: first, end: last }));
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
};
/**
 * One line per request once it is answered; a CopyObject is a PUT with x-amz-copy-source, an
 * UploadPartCopy one with a partNumber too, and the range it copies.
 */
const logRequest: Middleware = async (ctx, next) => {
  try {
    await next();
  } finally {
    const range = ctx.headers['x-amz-copy-source-range'];
    const copy = ctx.headers['x-amz-copy-source'] === undefined ? '' : range === undefined ? ' (copy)' : ` (copy ${range})`;
    console.log(`request: ${ctx.method} ${ctx.url}${copy} ${ctx.status}`);
  }
};

// After s3rver's own logger (first), before everything that would refuse the request.
app.middleware.splice(1, 0, ...(flag === '--log' ? [logRequest] : []), abortMultipartUpload, uploadPartCopy);

/** Lists every key under the prefix, then folds those past a delimiter into common prefixes: one page, however long. */
const listAll = app.store.listObjects.bind(app.store);
app.store.listObjects = async (bucket, options) => {
  const { delimiter, prefix = '' } = options;
  if (!delimiter) return listAll(bucket, options);
  const all = await listAll(bucket, { ...options, delimiter: '', maxKeys: Infinity });
  const commonPrefixes = new Set<string>();
  const objects = all.objects.filter(({ key }) => {
    const at = key.indexOf(delimiter, prefix.length);
    if (at >= 0) commonPrefixes.add(key.slice(0, at + delimiter.length));
    return at < 0;
  });
  return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
};

/** Serves `bytes=0-0` as the first byte, by reading the object from 0 and then only byte 0. */
const getObject = app.store.getObject.bind(app.store);
app.store.getObject = async (bucket, key, options) => {
  if (options?.end !== 0) return getObject(bucket, key, options);
  const object = await getObject(bucket, key, { start: options.start });
  if (object?.content && object.range) {
    object.content.destroy();
    object.content = createReadStream(app.store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
    object.range.end = 0;
  }
  return object;
};

const { address, port } = await app.run();
console.log('S3rver listening on %s:%d', address, port);
