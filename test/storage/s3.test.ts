import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { S3Driver } from '../../registry/storage/s3.js';
import { copyPartSize } from '../../registry/storage/s3-copy.js';
import { parseS3Url } from '../../registry/storage/s3-options.js';
import { startS3Server, S3RVER_ENV, type S3Server } from '../support/s3-server.js';
import { copyAll, runDriverSuite, sha256, sha256Of } from './driver-suite.js';

const MiB = 1024 * 1024;
let server: S3Server;

before(async () => {
  // Logging every request lets the multipart copy tests see which requests a move made.
  server = await startS3Server({ log: true });
  Object.assign(process.env, S3RVER_ENV);
});
after(() => server.stop());

/**
 * Parts of 5 MiB, S3's least, so that tests of a few MiB span several, and objects over 5 MiB
 * moved by a multipart copy of 5 MiB parts.
 */
const SMALL_PARTS = { partSize: '5MiB', multipartCopyThresholdSize: '5MiB', multipartCopyChunkSize: '5MiB' };

/** A driver on a new bucket, with SMALL_PARTS unless `options` says otherwise. */
async function newDriver(options: Record<string, string> = {}): Promise<{ driver: S3Driver; bucket: string }> {
  const url = await server.bucket(undefined, { ...SMALL_PARTS, ...options });
  return { driver: new S3Driver(parseS3Url(url)), bucket: new URL(url).hostname };
}

runDriverSuite('s3', async () => ({ driver: (await newDriver()).driver, cleanup: async () => {} }));
runDriverSuite('s3 with a key prefix', async () => {
  const url = await server.bucket(undefined, SMALL_PARTS);
  return { driver: new S3Driver(parseS3Url(url.replace('?', '/wharf/registry?'))), cleanup: async () => {} };
});

/** The multipart uploads s3rver holds in a bucket, with the sizes of their parts. */
async function multipartUploads(bucket: string): Promise<number[][]> {
  const uploads = join(server.directory, bucket, '._S3rver_uploads');
  const ids = await readdir(uploads).catch(() => []);
  return Promise.all(
    ids.map(async (id) => {
      const parts = (await readdir(join(uploads, id))).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(a) - Number(b));
      return Promise.all(parts.map(async (part) => (await stat(join(uploads, id, part))).size));
    }),
  );
}

describe('s3 storage driver on s3rver', () => {
  test('a closed write is one multipart upload of equal parts, the rest staged in the bucket', async () => {
    const { driver, bucket } = await newDriver();
    const writer = await driver.writer('/upload/data', true);
    await pipeline(Readable.from([randomBytes(3 * MiB), randomBytes(9 * MiB + 17)]), writer.stream);
    await writer.close();
    assert.deepEqual(await multipartUploads(bucket), [[5 * MiB, 5 * MiB]]);
    assert.equal((await driver.stat('/upload/data'))?.size, 12 * MiB + 17);
    const next = await driver.writer('/upload/data', true);
    await next.commit();
    assert.deepEqual(await multipartUploads(bucket), []);
    assert.equal((await driver.getContent('/upload/data')).length, 12 * MiB + 17);
  });

  test('deleting an unfinished write aborts its multipart upload', async () => {
    const { driver, bucket } = await newDriver();
    const writer = await driver.writer('/repositories/r/_uploads/id/data', true);
    await pipeline(Readable.from([randomBytes(11 * MiB)]), writer.stream);
    await writer.close();
    assert.equal((await multipartUploads(bucket)).length, 1);
    await driver.delete('/repositories/r/_uploads');
    assert.deepEqual(await multipartUploads(bucket), []);
  });

  test('a cancelled writer aborts the multipart upload it started', async () => {
    const { driver, bucket } = await newDriver();
    const writer = await driver.writer('/upload', false);
    writer.stream.write(randomBytes(6 * MiB));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writer.cancel();
    assert.deepEqual(await multipartUploads(bucket), []);
    assert.equal(await driver.stat('/upload'), undefined);
  });

  test('two drivers on one bucket continue each other\'s writes', async () => {
    const url = await server.bucket(undefined, SMALL_PARTS);
    const [one, two] = [new S3Driver(parseS3Url(url)), new S3Driver(parseS3Url(url))];
    const content = randomBytes(13 * MiB + 1);
    const cuts = [0, 4 * MiB, 7 * MiB, content.length];
    for (let i = 1; i < cuts.length; i++) {
      const writer = await (i % 2 ? one : two).writer('/data', true);
      await pipeline(Readable.from([content.subarray(cuts[i - 1], cuts[i])]), writer.stream);
      await writer.close();
    }
    await (await one.writer('/data', true)).commit();
    assert.ok((await two.getContent('/data')).equals(content));
  });

  test('keys live under the prefix', async () => {
    const url = await server.bucket(undefined, SMALL_PARTS);
    const prefixed = new S3Driver(parseS3Url(url.replace('?', '/team/registry?')));
    await prefixed.putContent('/blobs/x', Buffer.from('x'));
    const root = new S3Driver(parseS3Url(url));
    assert.deepEqual(await root.list('/'), ['/team']);
    assert.equal((await root.getContent('/team/registry/blobs/x')).toString(), 'x');
  });

  test('redirectUrl gives a presigned URL that serves the object and its ranges', async () => {
    const { driver } = await newDriver({ redirect: 'true' });
    const content = randomBytes(100_000);
    await driver.putContent('/blob', content);
    const url = await driver.redirectUrl('/blob');
    assert.ok(url?.includes('X-Amz-Signature='), url);
    const whole = await fetch(url!);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(content));
    const part = await fetch(url!, { headers: { range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(content.subarray(10, 20)));
  });

  test('redirectUrl is undefined unless redirect=true', async () => {
    const { driver } = await newDriver();
    await driver.putContent('/blob', Buffer.from('x'));
    assert.equal(await driver.redirectUrl('/blob'), undefined);
  });
});

describe('s3 move of large objects: multipart copy', () => {
  /** The copies s3rver was asked for in `bucket` since the last clearRequests(), as `PART RANGE` or `CopyObject`. */
  function copies(bucket: string): string[] {
    return server
      .requests()
      .filter((line) => line.startsWith(`PUT /${bucket}/`) && line.includes(' (copy'))
      .map((line) => {
        const part = new URL(line.split(' ')[1]!, 'http://s3').searchParams.get('partNumber');
        return part === null ? 'CopyObject' : `${part} ${/\(copy (bytes=\d+-\d+)\)/.exec(line)?.[1]}`;
      })
      .sort((a, b) => parseInt(a) - parseInt(b));
  }

  async function putObject(driver: S3Driver, path: string, content: Buffer): Promise<void> {
    const writer = await driver.writer(path, false);
    await pipeline(Readable.from([content]), writer.stream);
    await writer.commit();
  }

  test('an object above multipartCopyThresholdSize is copied in equal parts by UploadPartCopy, the last shorter, and the source goes', async () => {
    const { driver, bucket } = await newDriver({ multipartCopyMaxConcurrency: '2' });
    const content = randomBytes(12 * MiB + 7);
    await putObject(driver, '/repositories/r/_uploads/id/data', content);
    server.clearRequests();
    await driver.move('/repositories/r/_uploads/id/data', '/blobs/sha256/ab/abcd/data');
    assert.deepEqual(copies(bucket), [
      `1 bytes=0-${5 * MiB - 1}`,
      `2 bytes=${5 * MiB}-${10 * MiB - 1}`,
      `3 bytes=${10 * MiB}-${12 * MiB + 6}`,
    ]);
    assert.equal((await driver.stat('/blobs/sha256/ab/abcd/data'))?.size, content.length);
    assert.equal(await sha256Of(driver, '/blobs/sha256/ab/abcd/data'), sha256(content));
    assert.ok((await copyAll(driver, '/blobs/sha256/ab/abcd/data', 5 * MiB - 2, 4)).equals(content.subarray(5 * MiB - 2, 5 * MiB + 2)));
    assert.ok((await copyAll(driver, '/blobs/sha256/ab/abcd/data', 12 * MiB)).equals(content.subarray(12 * MiB)));
    assert.equal(await driver.stat('/repositories/r/_uploads/id/data'), undefined);
    assert.deepEqual(await multipartUploads(bucket), []);
  });

  test('an object at multipartCopyThresholdSize is moved by one CopyObject', async () => {
    const { driver, bucket } = await newDriver();
    const content = randomBytes(5 * MiB);
    await putObject(driver, '/from', content);
    server.clearRequests();
    await driver.move('/from', '/to');
    assert.deepEqual(copies(bucket), ['CopyObject']);
    assert.ok((await driver.getContent('/to')).equals(content));
    assert.equal(await driver.stat('/from'), undefined);
  });

  /**
   * A driver on a new bucket through a proxy in front of s3rver, which lets `intercept` answer or
   * change a request before forwarding it.
   */
  async function driverBehindProxy(
    t: TestContext,
    options: Record<string, string>,
    intercept: (incoming: IncomingMessage, answer: ServerResponse) => boolean,
  ): Promise<{ driver: S3Driver; bucket: string }> {
    const upstream = new URL(server.endpoint);
    const proxy = createServer((incoming, answer) => {
      if (intercept(incoming, answer)) return;
      const forwarded = request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
        answer.writeHead(response.statusCode!, response.headers);
        response.pipe(answer);
      });
      incoming.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    return newDriver({ ...options, endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
  }

  /** The part number an UploadPartCopy request copies, or undefined for any other request. */
  function copiedPart(incoming: IncomingMessage): string | undefined {
    if (incoming.headers['x-amz-copy-source'] === undefined) return undefined;
    return new URL(incoming.url!, 'http://s3').searchParams.get('partNumber') ?? undefined;
  }

  test('a multipart copy that fails part way aborts its upload and leaves the source, and no target', async (t) => {
    // Part 2 is refused, as S3 would refuse it without s3:GetObject on the source.
    const { driver, bucket } = await driverBehindProxy(t, { multipartCopyMaxConcurrency: '1' }, (incoming, answer) => {
      if (copiedPart(incoming) !== '2') return false;
      answer.writeHead(403, { 'content-type': 'application/xml' });
      answer.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
      return true;
    });
    const content = randomBytes(12 * MiB + 7);
    await putObject(driver, '/from', content);
    server.clearRequests();
    await assert.rejects(driver.move('/from', '/to'), /Access Denied/);
    // Part 1 was copied before part 2 failed: only an abort removes it.
    assert.equal(copies(bucket)[0], `1 bytes=0-${5 * MiB - 1}`);
    assert.deepEqual(await multipartUploads(bucket), []);
    assert.equal(await driver.stat('/to'), undefined);
    assert.ok((await driver.getContent('/from')).equals(content));
  });

  test('a multipart copy whose ranges a server ignores is caught by its size and leaves no target', async (t) => {
    // Without x-amz-copy-source-range every part is the whole object, as on a server that ignores it.
    const { driver } = await driverBehindProxy(t, {}, (incoming) => {
      if (copiedPart(incoming) !== undefined) delete incoming.headers['x-amz-copy-source-range'];
      return false;
    });
    const content = randomBytes(11 * MiB);
    await putObject(driver, '/from', content);
    await assert.rejects(driver.move('/from', '/to'), new RegExp(`holds ${3 * content.length} bytes after a multipart copy of ${content.length}`));
    assert.equal(await driver.stat('/to'), undefined);
    assert.ok((await driver.getContent('/from')).equals(content));
  });

  test('a blob that would take more than 10,000 parts is copied in fewer, larger equal parts', () => {
    const GiB = 1024 * MiB;
    assert.equal(copyPartSize(300 * GiB, 32 * MiB), 32 * MiB);
    const size = 400 * GiB + 1;
    const partSize = copyPartSize(size, 32 * MiB);
    assert.ok(partSize > 32 * MiB);
    assert.equal(Math.ceil(size / partSize), 10_000);
  });
});
