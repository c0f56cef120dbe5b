// Two `wharf serve` processes on one S3 bucket (s3rver) are one registry: an upload started on one
// continues and finishes on the other, and what one stores the other serves at once.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { startS3Server, S3RVER_ENV, type S3Server } from '../support/s3-server.js';
import { runWharf, startWharf, type WharfProcess } from '../support/wharf-process.js';
import { locationPath, send, startUpload, uploadOffset, withQuery } from './http-client.js';
import { sha256, testBytes } from './sample-bytes.js';

const MiB = 1024 * 1024;
let s3: S3Server;

before(async () => {
  s3 = await startS3Server();
});
after(() => s3.stop());

async function twoInstances(t: TestContext, bucketOptions: Record<string, string> = {}): Promise<[WharfProcess, WharfProcess]> {
  const storage = await s3.bucket(undefined, { partSize: '5MiB', ...bucketOptions });
  const start = () => startWharf({ t, storage, env: S3RVER_ENV });
  return [await start(), await start()];
}

async function assertServes(url: string, repository: string, digest: string, content: Buffer): Promise<void> {
  const res = await send(url, 'GET', `/v2/${repository}/blobs/${digest}`);
  assert.equal(res.status, 200, res.body.toString().slice(0, 300));
  assert.equal(res.headers['content-length'], String(content.length));
  assert.equal(res.body.length, content.length);
  assert.equal(sha256(res.body), digest);
}

test('a chunked upload split across two instances is served whole by both', { timeout: 120_000 }, async (t) => {
  const [one, two] = await twoInstances(t);
  const content = testBytes(17 * MiB + 123, 1);
  const digest = sha256(content);
  let location = await startUpload(one.url, 'shared/app');
  const cuts = [0, 2 * MiB, 7 * MiB + 5, 13 * MiB, content.length];
  for (let i = 1; i < cuts.length - 1; i++) {
    const instance = i % 2 ? two : one;
    const res = await send(instance.url, 'PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${cuts[i - 1]}-${cuts[i] - 1}` },
      body: content.subarray(cuts[i - 1], cuts[i]),
    });
    assert.equal(res.status, 202, res.body.toString());
    location = locationPath(res);
    // The other instance sees the new offset at once.
    assert.equal((await uploadOffset((i % 2 ? one : two).url, location)).offset, cuts[i]);
  }
  const last = cuts.length - 2;
  const put = await send(two.url, 'PUT', withQuery(location, 'digest', digest), {
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${cuts[last]}-${content.length - 1}` },
    body: content.subarray(cuts[last]),
  });
  assert.equal(put.status, 201, put.body.toString());
  await assertServes(one.url, 'shared/app', digest, content);
  await assertServes(two.url, 'shared/app', digest, content);
  const range = await send(one.url, 'GET', `/v2/shared/app/blobs/${digest}`, { headers: { range: `bytes=${5 * MiB}-${6 * MiB - 1}` } });
  assert.equal(range.status, 206);
  assert.ok(range.body.equals(content.subarray(5 * MiB, 6 * MiB)));
});

test('a streamed PATCH on one instance and the closing PUT on the other verify the digest from the stored bytes', { timeout: 120_000 }, async (t) => {
  const [one, two] = await twoInstances(t);
  const content = testBytes(11 * MiB, 2);
  const location = await startUpload(one.url, 'shared/app');
  const patch = await send(one.url, 'PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: content });
  assert.equal(patch.status, 202);
  const wrong = await send(two.url, 'PUT', withQuery(locationPath(patch), 'digest', sha256(Buffer.from('other'))));
  assert.equal(wrong.status, 400, 'a digest that does not match the stored bytes is refused');
  const head = await send(one.url, 'HEAD', `/v2/shared/app/blobs/${sha256(Buffer.from('other'))}`);
  assert.equal(head.status, 404);

  const again = await startUpload(two.url, 'shared/app');
  const patched = await send(two.url, 'PATCH', again, { headers: { 'content-type': 'application/octet-stream' }, body: content });
  const put = await send(one.url, 'PUT', withQuery(locationPath(patched), 'digest', sha256(content)));
  assert.equal(put.status, 201, put.body.toString());
  await assertServes(two.url, 'shared/app', sha256(content), content);
});

test('a tag pushed through one instance is served by the other at once', { timeout: 60_000 }, async (t) => {
  const [one, two] = await twoInstances(t);
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const configDigest = sha256(config);
  const pushed = await send(one.url, 'POST', `/v2/shared/app/blobs/uploads/?digest=${configDigest}`, { body: config });
  assert.equal(pushed.status, 201);
  for (const version of ['1', '2']) {
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [],
        annotations: { version },
      }),
    );
    const put = await send(one.url, 'PUT', '/v2/shared/app/manifests/latest', {
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    assert.equal(put.status, 201, put.body.toString());
    const got = await send(two.url, 'GET', '/v2/shared/app/manifests/latest', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(manifest), `tag latest on the other instance is version ${version}`);
  }
  const tags = await send(two.url, 'GET', '/v2/shared/app/tags/list');
  assert.deepEqual(JSON.parse(tags.body.toString()).tags, ['latest']);
});

test('with redirect=true a blob GET answers 307 to a presigned URL that serves the blob', { timeout: 60_000 }, async (t) => {
  const [one] = await twoInstances(t, { redirect: 'true' });
  const content = testBytes(6 * MiB, 3);
  const digest = sha256(content);
  assert.equal((await send(one.url, 'POST', `/v2/shared/app/blobs/uploads/?digest=${digest}`, { body: content })).status, 201);
  const res = await send(one.url, 'GET', `/v2/shared/app/blobs/${digest}`);
  assert.equal(res.status, 307);
  assert.equal(res.headers['docker-content-digest'], digest);
  const target = String(res.headers.location);
  assert.ok(target.startsWith(s3.endpoint), target);
  const blob = await send(target, 'GET', target);
  assert.equal(blob.status, 200);
  assert.equal(sha256(blob.body), digest);
  assert.equal((await send(one.url, 'HEAD', `/v2/shared/app/blobs/${digest}`)).status, 200, 'HEAD is answered by the registry');
});

test('cancelling an upload leaves nothing in the bucket, and its multipart upload is aborted', { timeout: 60_000 }, async (t) => {
  const [one, two] = await twoInstances(t);
  const location = await startUpload(one.url, 'shared/app');
  const patch = await send(one.url, 'PATCH', location, { headers: { 'content-type': 'application/octet-stream' }, body: testBytes(12 * MiB, 4) });
  assert.equal(patch.status, 202);
  assert.equal((await send(two.url, 'DELETE', locationPath(patch))).status, 204);
  assert.equal((await uploadOffset(one.url, locationPath(patch))).res.status, 404);
  const bucket = new URL(one.storage).hostname;
  const listing = await fetch(`${s3.endpoint}/${bucket}?list-type=2`);
  // The search index's generation marker is the registry's own; nothing of the upload may stay.
  const keys = [...(await listing.text()).matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) => match[1]);
  assert.deepEqual(keys.filter((key) => !key!.startsWith('_search/')), [], 'no key of the upload is left in the bucket');
  // s3rver keeps the parts of unfinished multipart uploads here.
  assert.deepEqual(await readdir(join(s3.directory, bucket, '._S3rver_uploads')).catch(() => []), []);
});

test('a bucket that does not exist stops wharf serve at start with one line', async () => {
  const storage = `s3://no-such-bucket?region=us-east-1&endpoint=${encodeURIComponent(s3.endpoint)}`;
  const result = await runWharf(['serve', '--addr', '127.0.0.1:0', '--storage', storage], { env: S3RVER_ENV });
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('wharf serve:'));
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /cannot use s3:no-such-bucket: .*bucket does not exist/i);
});
