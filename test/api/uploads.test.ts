import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { newTestStorage } from '../support/test-storage.js';
import {
  absentDigest,
  assertError,
  getBlob,
  headBlob,
  locationPath,
  newApp,
  pushBlob,
  randomBlob,
  startUpload,
  withQuery,
  type App,
  type Response,
} from './fixtures.js';

const OCTET = { 'content-type': 'application/octet-stream' };

async function patch(app: App, location: string, body: Buffer, range?: string): Promise<Response> {
  return app.inject({
    method: 'PATCH',
    url: location,
    headers: { ...OCTET, ...(range === undefined ? {} : { 'content-range': range }) },
    payload: body,
  });
}

async function put(app: App, location: string, digest: string, body?: Buffer, range?: string): Promise<Response> {
  return app.inject({
    method: 'PUT',
    url: withQuery(location, { digest }),
    headers: body === undefined ? {} : { ...OCTET, ...(range === undefined ? {} : { 'content-range': range }) },
    ...(body === undefined ? {} : { payload: body }),
  });
}

async function status(app: App, location: string): Promise<Response> {
  return app.inject({ method: 'GET', url: location });
}

/** A monolithic upload: POST ?digest= with the whole body. */
async function postBlob(app: App, repo: string, digest: string, body: Buffer): Promise<Response> {
  return app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/?digest=${digest}`, headers: OCTET, payload: body });
}

/** Asserts `res` completed an upload: 201 naming the blob in Location and Docker-Content-Digest, whose bytes are now `content`. */
async function assertCommitted(app: App, repo: string, res: Response, digest: string, content: Buffer): Promise<void> {
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(locationPath(res), `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.headers['docker-content-digest'], digest);
  const get = await getBlob(app, repo, digest);
  assert.equal(get.statusCode, 200);
  assert.deepEqual(get.rawPayload, content);
}

describe('POST /v2/<name>/blobs/uploads/', () => {
  test('POST starts a session: 202 with Location, Docker-Upload-UUID and Range 0-0', async (t) => {
    const app = await newApp(t);
    const res = await startUpload(app, 'foo/bar');
    assert.equal(res.statusCode, 202, res.body);
    const location = locationPath(res);
    assert.ok(location.startsWith('/v2/foo/bar/blobs/uploads/'), location);
    const uuid = res.headers['docker-upload-uuid'];
    assert.equal(typeof uuid, 'string');
    assert.ok((uuid as string).length > 0);
    assert.ok(location.includes(uuid as string), `${location} does not name session ${String(uuid)}`);
    assert.equal(res.headers.range, '0-0');
  });

  test('two POSTs start two distinct sessions', async (t) => {
    const app = await newApp(t);
    const a = await startUpload(app, 'foo/bar');
    const b = await startUpload(app, 'foo/bar');
    assert.notEqual(a.headers['docker-upload-uuid'], b.headers['docker-upload-uuid']);
    assert.notEqual(locationPath(a), locationPath(b));
  });

  test('POST ?digest= with the body uploads monolithically: 201 with the blob Location and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(500);
    const digest = digestOf(content);
    await assertCommitted(app, 'foo/bar', await postBlob(app, 'foo/bar', digest, content), digest, content);
  });

  test('POST ?digest= with a body that does not match returns 400 DIGEST_INVALID and stores nothing', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(500);
    const claimed = absentDigest();
    assertError(await postBlob(app, 'foo/bar', claimed, content), 400, 'DIGEST_INVALID');
    assert.equal((await headBlob(app, 'foo/bar', claimed)).statusCode, 404);
    assert.equal((await headBlob(app, 'foo/bar', digestOf(content))).statusCode, 404);
  });

  test('a failed monolithic POST leaves no upload session behind', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(500);
    const bad = [
      { query: `digest=${absentDigest()}`, headers: OCTET },
      { query: `digest=${digestOf(content)}`, headers: { ...OCTET, 'content-range': '0-9' } },
      { query: 'digest=sha256:nothex', headers: OCTET },
    ];
    for (const { query, headers } of bad) {
      const res = await app.inject({ method: 'POST', url: `/v2/foo/bar/blobs/uploads/?${query}`, headers, payload: content });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
    }
    assert.deepEqual(await app.registry.storage.list('/repositories/foo/bar/_uploads').catch(() => []), []);
  });

  test('POST ?digest= with a malformed digest returns 400 DIGEST_INVALID', async (t) => {
    const app = await newApp(t);
    assertError(await postBlob(app, 'foo/bar', 'sha256:xyz', randomBlob(10)), 400, 'DIGEST_INVALID');
  });

  test('POST ?digest= with an empty body uploads the empty blob', async (t) => {
    const app = await newApp(t);
    const digest = digestOf(Buffer.alloc(0));
    const res = await app.inject({ method: 'POST', url: `/v2/foo/bar/blobs/uploads/?digest=${digest}` });
    assert.equal(res.statusCode, 201, res.body);
    const head = await headBlob(app, 'foo/bar', digest);
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], '0');
  });
});

describe('monolithic upload: POST then PUT', () => {
  test('PUT ?digest= with the whole body completes the upload: 201 with Location and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(1234);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    await assertCommitted(app, 'foo/bar', await put(app, locationPath(post), digest, content), digest, content);
  });

  test('PUT of a 3 MiB body in one request is accepted', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(3 * 1024 * 1024);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const res = await put(app, locationPath(post), digest, content);
    assert.equal(res.statusCode, 201, res.body);
    const get = await getBlob(app, 'foo/bar', digest);
    assert.equal(digestOf(get.rawPayload), digest);
  });

  test('the upload session is gone once the PUT completes', async (t) => {
    const app = await newApp(t);
    const content = randomBlob();
    const post = await startUpload(app, 'foo/bar');
    const location = locationPath(post);
    assert.equal((await put(app, location, digestOf(content), content)).statusCode, 201);
    assertError(await status(app, location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('pushing a blob that already exists succeeds again with 201', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar');
    const again = await pushBlob(app, 'foo/bar', blob.content);
    assert.equal(again.digest, blob.digest);
  });

  test('PUT without a digest parameter returns 400', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await app.inject({ method: 'PUT', url: locationPath(post), headers: OCTET, payload: randomBlob() });
    assertError(res, 400, ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID']);
  });
});

describe('streamed upload: PATCH without Content-Range, then PUT', () => {
  test('PATCH streams a body: 202 with Location, Docker-Upload-UUID and Range 0-<last byte>', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await patch(app, locationPath(post), randomBlob(100));
    assert.equal(res.statusCode, 202, res.body);
    assert.ok(locationPath(res).startsWith('/v2/foo/bar/blobs/uploads/'));
    assert.equal(res.headers['docker-upload-uuid'], post.headers['docker-upload-uuid']);
    assert.equal(res.headers.range, '0-99');
  });

  test('PATCH then PUT ?digest= with an empty body completes the blob', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(2048);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), content);
    assert.equal(p.statusCode, 202, p.body);
    await assertCommitted(app, 'foo/bar', await put(app, locationPath(p), digest), digest, content);
  });

  test('several PATCHes without Content-Range append in order', async (t) => {
    const app = await newApp(t);
    const parts = [randomBlob(10), randomBlob(20), randomBlob(30)];
    const content = Buffer.concat(parts);
    let location = locationPath(await startUpload(app, 'foo/bar'));
    let end = -1;
    for (const part of parts) {
      const res = await patch(app, location, part);
      assert.equal(res.statusCode, 202, res.body);
      end += part.length;
      assert.equal(res.headers.range, `0-${end}`);
      location = locationPath(res);
    }
    const res = await put(app, location, digestOf(content));
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digestOf(content))).rawPayload, content);
  });

  test('a PATCH of a 3 MiB body in one request is accepted (docker push streams whole layers)', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(3 * 1024 * 1024 + 5);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), content);
    assert.equal(p.statusCode, 202, p.body);
    assert.equal(p.headers.range, `0-${content.length - 1}`);
    const res = await put(app, locationPath(p), digestOf(content));
    assert.equal(res.statusCode, 201, res.body);
  });

  test('PUT after PATCH may carry the final part of the body', async (t) => {
    const app = await newApp(t);
    const head = randomBlob(40);
    const tail = randomBlob(25);
    const content = Buffer.concat([head, tail]);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), head);
    const res = await put(app, locationPath(p), digestOf(content), tail);
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digestOf(content))).rawPayload, content);
  });
});

describe('chunked upload: PATCH with Content-Range', () => {
  test('PATCH 0-9 then 10-19 then PUT stores the 20 bytes in order', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(20);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.headers.range, '0-9');
    const second = await patch(app, locationPath(first), content.subarray(10, 20), '10-19');
    assert.equal(second.statusCode, 202, second.body);
    assert.equal(second.headers.range, '0-19');
    const res = await put(app, locationPath(second), digest);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });

  test('the last chunk may be sent with the closing PUT and its Content-Range', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(25);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    assert.equal(first.statusCode, 202, first.body);
    const res = await put(app, locationPath(first), digest, content.subarray(10), '10-24');
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });

  test('PATCH out of order returns 416', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(30);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    assert.equal(first.statusCode, 202);
    const skipped = await patch(app, locationPath(first), content.subarray(20, 30), '20-29');
    assert.equal(skipped.statusCode, 416, skipped.body);
  });

  test('PATCH that repeats an already received range returns 416', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(20);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    const again = await patch(app, locationPath(first), content.subarray(0, 10), '0-9');
    assert.equal(again.statusCode, 416, again.body);
  });

  test('a first PATCH that does not start at 0 returns 416', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await patch(app, locationPath(post), randomBlob(10), '5-14');
    assert.equal(res.statusCode, 416, res.body);
  });

  test('a PATCH with a malformed Content-Range returns 416', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await patch(app, locationPath(post), randomBlob(10), 'ten-twenty');
    assert.equal(res.statusCode, 416, res.body);
  });

  test('a PATCH whose Content-Range length differs from its body is refused', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await patch(app, locationPath(post), randomBlob(5), '0-9');
    assert.ok(res.statusCode === 400 || res.statusCode === 416, `got ${res.statusCode} ${res.body}`);
  });

  test('an out-of-order PATCH leaves the session intact: status still reports the last good range and the upload can go on', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(20);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    const location = locationPath(first);
    assert.equal((await patch(app, location, content.subarray(15, 20), '15-19')).statusCode, 416);
    const st = await status(app, location);
    assert.equal(st.statusCode, 204);
    assert.equal(st.headers.range, '0-9');
    const second = await patch(app, locationPath(st), content.subarray(10, 20), '10-19');
    assert.equal(second.statusCode, 202, second.body);
    const res = await put(app, locationPath(second), digest);
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });
});

describe('GET /v2/<name>/blobs/uploads/<uuid>', () => {
  test('GET status returns 204 with Location, Docker-Upload-UUID and Range 0-<last byte>', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), randomBlob(42));
    const res = await status(app, locationPath(p));
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.headers.range, '0-41');
    assert.ok(locationPath(res).startsWith('/v2/foo/bar/blobs/uploads/'));
    assert.equal(res.headers['docker-upload-uuid'], post.headers['docker-upload-uuid']);
  });

  test('GET status of a fresh session returns 204 with Range 0-0', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await status(app, locationPath(post));
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.headers.range, '0-0');
  });

  test('GET status of an unknown session returns 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await startUpload(app, 'foo/bar');
    const res = await status(app, '/v2/foo/bar/blobs/uploads/00000000-0000-4000-8000-000000000000');
    assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('a session started in one repository is unknown in another', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    await startUpload(app, 'foo/other');
    const location = locationPath(post).replace('/v2/foo/bar/', '/v2/foo/other/');
    assertError(await status(app, location), 404, 'BLOB_UPLOAD_UNKNOWN');
    const content = randomBlob();
    const res = await put(app, location, digestOf(content), content);
    assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});

describe('DELETE /v2/<name>/blobs/uploads/<uuid>', () => {
  test('DELETE cancels the session: 204, then GET status returns 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), randomBlob(10));
    const location = locationPath(p);
    const del = await app.inject({ method: 'DELETE', url: location });
    assert.equal(del.statusCode, 204, del.body);
    assertError(await status(app, location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('PATCH and PUT on a cancelled session return 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const location = locationPath(post);
    await app.inject({ method: 'DELETE', url: location });
    assertError(await patch(app, location, randomBlob(10)), 404, 'BLOB_UPLOAD_UNKNOWN');
    const content = randomBlob();
    assertError(await put(app, location, digestOf(content), content), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('DELETE of an unknown session returns 404 BLOB_UPLOAD_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await startUpload(app, 'foo/bar');
    const res = await app.inject({ method: 'DELETE', url: '/v2/foo/bar/blobs/uploads/00000000-0000-4000-8000-000000000000' });
    assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});

describe('digest verification', () => {
  test('PUT with a wrong digest returns 400 DIGEST_INVALID and the blob is not visible', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(64);
    const wrong = absentDigest();
    const post = await startUpload(app, 'foo/bar');
    const res = await put(app, locationPath(post), wrong, content);
    assertError(res, 400, 'DIGEST_INVALID');
    assert.equal((await headBlob(app, 'foo/bar', wrong)).statusCode, 404);
    assert.equal((await headBlob(app, 'foo/bar', digestOf(content))).statusCode, 404);
  });

  test('PUT with a wrong digest after chunks returns 400 DIGEST_INVALID and the blob is not visible', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(20);
    const wrong = digestOf(content.subarray(0, 10));
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), content, '0-19');
    const res = await put(app, locationPath(p), wrong);
    assertError(res, 400, 'DIGEST_INVALID');
    assert.equal((await headBlob(app, 'foo/bar', wrong)).statusCode, 404);
  });

  test('PUT with a malformed digest returns 400 DIGEST_INVALID', async (t) => {
    const app = await newApp(t);
    for (const bad of ['sha256:xyz', 'sha256', 'not-a-digest', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`]) {
      const post = await startUpload(app, 'foo/bar');
      const res = await put(app, locationPath(post), bad, randomBlob(8));
      assertError(res, 400, 'DIGEST_INVALID');
    }
  });

  test('PUT with an unsupported algorithm (md5) returns 400', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await put(app, locationPath(post), `md5:${'0'.repeat(32)}`, randomBlob(8));
    assertError(res, 400, ['DIGEST_INVALID', 'UNSUPPORTED']);
  });

  test('sha512 digests work end to end: chunked upload, HEAD, GET', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(300);
    const digest = digestOf(content, 'sha512');
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 100), '0-99');
    assert.equal(first.statusCode, 202, first.body);
    const second = await patch(app, locationPath(first), content.subarray(100), '100-299');
    assert.equal(second.statusCode, 202, second.body);
    await assertCommitted(app, 'foo/bar', await put(app, locationPath(second), digest), digest, content);
    const head = await headBlob(app, 'foo/bar', digest);
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['docker-content-digest'], digest);
    assert.equal(head.headers['content-length'], '300');
  });

  test('a sha512 PUT with a wrong sha512 digest returns 400 DIGEST_INVALID', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const res = await put(app, locationPath(post), digestOf(randomBlob(), 'sha512'), randomBlob());
    assertError(res, 400, 'DIGEST_INVALID');
  });

  test('POST ?digest= monolithic upload works with a sha512 digest', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(77);
    const digest = digestOf(content, 'sha512');
    const res = await postBlob(app, 'foo/bar', digest, content);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });
});

describe('cross-repository mount: POST ?mount=&from=', () => {
  test('mount of a blob that exists in from returns 201 with the blob Location and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'source/repo');
    const res = await startUpload(app, 'target/repo', `?mount=${blob.digest}&from=source/repo`);
    await assertCommitted(app, 'target/repo', res, blob.digest, blob.content);
  });

  test('mount of a blob that from does not have returns 202 and a normal upload session', async (t) => {
    const app = await newApp(t);
    const elsewhere = await pushBlob(app, 'elsewhere/repo');
    await pushBlob(app, 'source/repo');
    const res = await startUpload(app, 'target/repo', `?mount=${elsewhere.digest}&from=source/repo`);
    assert.equal(res.statusCode, 202, res.body);
    const location = locationPath(res);
    assert.ok(location.startsWith('/v2/target/repo/blobs/uploads/'), location);
    assert.equal((await headBlob(app, 'target/repo', elsewhere.digest)).statusCode, 404);
    // the session is a real one: the client falls back to uploading through it
    const done = await put(app, location, elsewhere.digest, elsewhere.content);
    assert.equal(done.statusCode, 201, done.body);
  });

  test('mount from a repository that does not exist returns 202', async (t) => {
    const app = await newApp(t);
    const res = await startUpload(app, 'target/repo', `?mount=${absentDigest()}&from=no/such/repo`);
    assert.equal(res.statusCode, 202, res.body);
    assert.ok(locationPath(res).startsWith('/v2/target/repo/blobs/uploads/'));
  });

  test('mount without from returns 201 when the blob exists in some repository', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'source/repo');
    const res = await startUpload(app, 'target/repo', `?mount=${blob.digest}`);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal((await getBlob(app, 'target/repo', blob.digest)).statusCode, 200);
  });

  test('mount without from returns 202 when the blob exists nowhere', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'source/repo');
    const res = await startUpload(app, 'target/repo', `?mount=${absentDigest()}`);
    assert.equal(res.statusCode, 202, res.body);
  });

  test('mount of a sha512 blob returns 201', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'source/repo', randomBlob(), 'sha512');
    const res = await startUpload(app, 'target/repo', `?mount=${blob.digest}&from=source/repo`);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
  });

  test('mount from a repository whose copy was deleted returns 202', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'source/repo');
    await app.inject({ method: 'DELETE', url: `/v2/source/repo/blobs/${blob.digest}` });
    const res = await startUpload(app, 'target/repo', `?mount=${blob.digest}&from=source/repo`);
    assert.equal(res.statusCode, 202, res.body);
  });
});

describe('Location headers', () => {
  test('Location headers are relative /v2/ paths or honour X-Forwarded-Proto and X-Forwarded-Host', async (t) => {
    const app = await newApp(t);
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'registry.example.com' };
    const post = await app.inject({ method: 'POST', url: '/v2/foo/bar/blobs/uploads/', headers });
    const content = randomBlob();
    const digest = digestOf(content);
    const done = await app.inject({
      method: 'PUT',
      url: withQuery(locationPath(post), { digest }),
      headers: { ...headers, ...OCTET },
      payload: content,
    });
    assert.equal(done.statusCode, 201, done.body);
    for (const res of [post, done]) {
      const location = String(res.headers.location);
      assert.ok(
        location.startsWith('/v2/') || location.startsWith('https://registry.example.com/v2/'),
        `Location ${location} is neither relative nor the forwarded origin`,
      );
    }
  });
});

describe('upload sessions live in storage', () => {
  test('an upload started on one instance is continued and finished on another over the same storage', async (t) => {
    const storage = await newTestStorage();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    const content = randomBlob(30);
    const digest = digestOf(content);
    const post = await startUpload(one, 'foo/bar');
    const first = await patch(one, locationPath(post), content.subarray(0, 10), '0-9');
    assert.equal(first.statusCode, 202);
    const st = await status(two, locationPath(first));
    assert.equal(st.statusCode, 204, st.body);
    assert.equal(st.headers.range, '0-9');
    const second = await patch(two, locationPath(st), content.subarray(10, 20), '10-19');
    assert.equal(second.statusCode, 202, second.body);
    const third = await patch(one, locationPath(second), content.subarray(20), '20-29');
    assert.equal(third.statusCode, 202, third.body);
    const done = await put(two, locationPath(third), digest);
    assert.equal(done.statusCode, 201, done.body);
    assert.deepEqual((await getBlob(one, 'foo/bar', digest)).rawPayload, content);
  });

  test('a blob of several parts pushed in uneven chunks through two instances reads back whole from both', async (t) => {
    const storage = await newTestStorage();
    const [one, two] = [await newApp(t, storage), await newApp(t, storage)];
    const MiB = 1024 * 1024;
    const content = randomBlob(13 * MiB + 7);
    const digest = digestOf(content);
    let location = locationPath(await startUpload(one, 'foo/bar'));
    const cuts = [0, 3 * MiB, 9 * MiB + 1, 12 * MiB, content.length];
    for (let i = 1; i < cuts.length - 1; i++) {
      const res = await patch(i % 2 ? one : two, location, content.subarray(cuts[i - 1], cuts[i]), `${cuts[i - 1]}-${cuts[i] - 1}`);
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(res.headers.range, `0-${cuts[i] - 1}`);
      location = locationPath(res);
    }
    const last = cuts.length - 1;
    const done = await put(one, location, digest, content.subarray(cuts[last - 1]), `${cuts[last - 1]}-${content.length - 1}`);
    assert.equal(done.statusCode, 201, done.body);
    for (const app of [one, two]) {
      const res = await getBlob(app, 'foo/bar', digest);
      assert.equal(res.statusCode, 200);
      assert.equal(res.rawPayload.length, content.length);
      assert.equal(digestOf(res.rawPayload), digest);
      const range = await getBlob(app, 'foo/bar', digest, { range: `bytes=${5 * MiB - 3}-${10 * MiB}` });
      assert.equal(range.statusCode, 206);
      assert.ok(range.rawPayload.equals(content.subarray(5 * MiB - 3, 10 * MiB + 1)));
    }
  });

  test('an upload survives a restart of the app', async (t) => {
    const storage = await newTestStorage();
    const before = await newApp(t, storage);
    const content = randomBlob(64);
    const post = await startUpload(before, 'foo/bar');
    const p = await patch(before, locationPath(post), content.subarray(0, 32));
    const location = locationPath(p);
    await before.close();
    const after = await newApp(t, storage);
    const res = await put(after, location, digestOf(content), content.subarray(32));
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(after, 'foo/bar', digestOf(content))).rawPayload, content);
  });

  test('two interleaved sessions on one repository keep their bytes apart', async (t) => {
    const app = await newApp(t);
    const a = randomBlob(20);
    const b = randomBlob(20);
    let la = locationPath(await startUpload(app, 'foo/bar'));
    let lb = locationPath(await startUpload(app, 'foo/bar'));
    la = locationPath(await patch(app, la, a.subarray(0, 10), '0-9'));
    lb = locationPath(await patch(app, lb, b.subarray(0, 10), '0-9'));
    la = locationPath(await patch(app, la, a.subarray(10), '10-19'));
    lb = locationPath(await patch(app, lb, b.subarray(10), '10-19'));
    assert.equal((await put(app, lb, digestOf(b))).statusCode, 201);
    assert.equal((await put(app, la, digestOf(a))).statusCode, 201);
    assert.deepEqual((await getBlob(app, 'foo/bar', digestOf(a))).rawPayload, a);
    assert.deepEqual((await getBlob(app, 'foo/bar', digestOf(b))).rawPayload, b);
  });

  test('concurrent uploads of the same blob to one repository all succeed', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(4096);
    const digest = digestOf(content);
    const results = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const post = await startUpload(app, 'foo/bar');
        const p = await patch(app, locationPath(post), content);
        return put(app, locationPath(p), digest);
      }),
    );
    for (const res of results) assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });
});

describe('client quirks', () => {
  test('PATCH and PUT without a Content-Type header are accepted', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(50);
    const digest = digestOf(content);
    const post = await startUpload(app, 'foo/bar');
    const p = await app.inject({ method: 'PATCH', url: locationPath(post), payload: content.subarray(0, 20) });
    assert.equal(p.statusCode, 202, p.body);
    const res = await app.inject({ method: 'PUT', url: withQuery(locationPath(p), { digest }), payload: content.subarray(20) });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual((await getBlob(app, 'foo/bar', digest)).rawPayload, content);
  });

  test('the docker push sequence works: HEAD 404, POST with mount 202, streamed PATCH, empty PUT, HEAD 200', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(10_000);
    const digest = digestOf(content);
    assert.equal((await headBlob(app, 'library/app', digest)).statusCode, 404);
    const post = await startUpload(app, 'library/app', `?mount=${digest}&from=library/base`);
    assert.equal(post.statusCode, 202, post.body);
    const p = await patch(app, locationPath(post), content);
    assert.equal(p.statusCode, 202, p.body);
    const done = await app.inject({ method: 'PUT', url: withQuery(locationPath(p), { digest }), headers: { 'content-length': '0' } });
    assert.equal(done.statusCode, 201, done.body);
    const head = await headBlob(app, 'library/app', digest);
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(content.length));
  });

  test('bytes of an unfinished upload are not served as a blob', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(100);
    const post = await startUpload(app, 'foo/bar');
    const p = await patch(app, locationPath(post), content);
    assert.equal(p.statusCode, 202);
    assert.equal((await headBlob(app, 'foo/bar', digestOf(content))).statusCode, 404);
    assertError(await getBlob(app, 'foo/bar', digestOf(content)), 404, 'BLOB_UNKNOWN');
  });

  test('a zero-length PATCH keeps the offset', async (t) => {
    const app = await newApp(t);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), randomBlob(10));
    const empty = await patch(app, locationPath(first), Buffer.alloc(0));
    assert.equal(empty.statusCode, 202, empty.body);
    assert.equal(empty.headers.range, '0-9');
  });

  test('PUT with two digest parameters is answered with 201 or a 4xx envelope, never a server error', async (t) => {
    // Pre-1.0 text of the spec: "Multiple digest parameters MAY be provided ... The server MAY verify
    // none or all of them but MUST notify the client if the content is rejected." 1.1 dropped it.
    const app = await newApp(t);
    const content = randomBlob(40);
    const post = await startUpload(app, 'foo/bar');
    const url = withQuery(locationPath(post), { digest: digestOf(content) });
    const res = await app.inject({
      method: 'PUT',
      url: withQuery(url, { digest: digestOf(content, 'sha512') }),
      headers: OCTET,
      payload: content,
    });
    if (res.statusCode !== 201) assertError(res, 400, ['DIGEST_INVALID', 'BLOB_UPLOAD_INVALID', 'UNSUPPORTED']);
  });

  test('PUT whose final-chunk Content-Range does not continue the upload returns 416', async (t) => {
    const app = await newApp(t);
    const content = randomBlob(20);
    const post = await startUpload(app, 'foo/bar');
    const first = await patch(app, locationPath(post), content.subarray(0, 10), '0-9');
    const res = await put(app, locationPath(first), digestOf(content), content.subarray(10), '15-24');
    assert.equal(res.statusCode, 416, res.body);
  });

  // 1.1: a registry "unable to mount the requested blob ... SHOULD return a 202"; the earlier text
  // is explicit: "If a mount fails due to invalid repository or digest arguments, the registry will
  // fall back to the standard upload behavior and return a 202". distribution ignores bad arguments.
  test('mount with an invalid from name falls back to a 202 upload session', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'source/repo');
    const res = await startUpload(app, 'target/repo', `?mount=${blob.digest}&from=Not..Valid`);
    assert.equal(res.statusCode, 202, res.body);
  });

  test('mount with a malformed digest falls back to a 202 upload session', async (t) => {
    const app = await newApp(t);
    const res = await startUpload(app, 'target/repo', '?mount=sha256:nothex&from=source/repo');
    assert.equal(res.statusCode, 202, res.body);
  });

  test('mount with an unsupported digest algorithm falls back to a 202 upload session', async (t) => {
    const app = await newApp(t);
    const res = await startUpload(app, 'target/repo', `?mount=md5:${'0'.repeat(32)}&from=source/repo`);
    assert.equal(res.statusCode, 202, res.body);
  });
});
