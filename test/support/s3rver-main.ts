// The s3rver process that test/support/s3-server.ts starts: s3rver 3.7 on 127.0.0.1 with two of its
// gaps filled, as S3 behaves:
// - AbortMultipartUpload, which s3rver answers 405;
// - listing with a delimiter, where s3rver misses every common prefix whose objects all lie two or
//   more folders deeper (it never walks into such folders), so `repositories/` would list no
//   repository named `a/b`;
// - `Range: bytes=0-0`, which s3rver answers with the whole object (it reads the end 0 as "none").
// With --log it prints one line per request, `request: METHOD URL STATUS` (s3rver's own request log
// cuts 16 characters off the front of each line, assuming a colored prefix it does not print here).
// Usage: node s3rver-main.js DIRECTORY [--log]
import { createReadStream, existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { rm } from 'node:fs/promises';
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
  };
  run(): Promise<{ address: string; port: number }>;
}

const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rverApp;
const [directory, flag] = process.argv.slice(2);
if (directory === undefined) throw new Error('usage: s3rver-main.js DIRECTORY [--log]');

const app = new S3rver({ directory, address: '127.0.0.1', port: 0, silent: true, vhostBuckets: false });

/** DELETE /BUCKET/KEY?uploadId=ID: removes the parts s3rver keeps for the upload, as S3 does. */
const abortMultipartUpload: Middleware = async (ctx, next) => {
  const uploadId = ctx.query.uploadId;
  if (ctx.method !== 'DELETE' || uploadId === undefined) return next();
  // s3rver keeps an upload's parts in BUCKET/._S3rver_uploads/ID.
  const parts = join(app.store.getResourcePath(ctx.path.split('/')[1]!, undefined, 'uploads'), uploadId);
  if (!/^[0-9a-f]+$/.test(uploadId) || !existsSync(parts)) {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>';
    return;
  }
  await rm(parts, { recursive: true, force: true });
  ctx.status = 204;
};
/** One line per request once it is answered; a CopyObject is a PUT with x-amz-copy-source. */
const logRequest: Middleware = async (ctx, next) => {
  try {
    await next();
  } finally {
    const copy = ctx.headers['x-amz-copy-source'] === undefined ? '' : ' (copy)';
    console.log(`request: ${ctx.method} ${ctx.url}${copy} ${ctx.status}`);
  }
};

// After s3rver's own logger (first), before everything that would refuse the request.
app.middleware.splice(1, 0, ...(flag === '--log' ? [logRequest] : []), abortMultipartUpload);

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
