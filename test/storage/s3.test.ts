import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { S3Driver } from '../../registry/storage/s3.js';
import { parseS3Url } from '../../registry/storage/s3-options.js';
import { startS3Server, S3RVER_ENV, type S3Server } from '../support/s3-server.js';
import { runDriverSuite } from './driver-suite.js';

const MiB = 1024 * 1024;
let server: S3Server;

before(async () => {
  server = await startS3Server();
  Object.assign(process.env, S3RVER_ENV);
});
after(() => server.stop());

/** A driver on a new bucket; parts of 5 MiB, S3's least, so that tests of a few MiB span several. */
async function newDriver(options: Record<string, string> = {}): Promise<{ driver: S3Driver; bucket: string }> {
  const url = await server.bucket(undefined, { partSize: '5MiB', ...options });
  return { driver: new S3Driver(parseS3Url(url)), bucket: new URL(url).hostname };
}

runDriverSuite('s3', async () => ({ driver: (await newDriver()).driver, cleanup: async () => {} }));
runDriverSuite('s3 with a key prefix', async () => {
  const url = await server.bucket(undefined, { partSize: '5MiB' });
  return { driver: new S3Driver(parseS3Url(url.replace('?', '/wharf/registry?'))), cleanup: async () => {} };
});

describe('s3 storage driver on s3rver', () => {
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
    const url = await server.bucket(undefined, { partSize: '5MiB' });
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
    const url = await server.bucket(undefined, { partSize: '5MiB' });
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
