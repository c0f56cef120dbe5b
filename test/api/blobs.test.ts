import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { absentDigest, assertError, getBlob, headBlob, newApp, pushBlob, randomBlob, startUpload } from './fixtures.js';

describe('HEAD /v2/<name>/blobs/<digest>', () => {
  test('HEAD an existing blob returns 200 with Content-Length and Docker-Content-Digest and no body', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
    const res = await headBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '100');
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.equal(res.rawPayload.length, 0);
  });

  test('HEAD an unknown blob returns 404', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const res = await headBlob(app, 'foo/bar', absentDigest());
    assert.equal(res.statusCode, 404);
  });
});

describe('GET /v2/<name>/blobs/<digest>', () => {
  test('GET an existing blob returns its exact bytes with Content-Length and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(1000));
    const res = await getBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '1000');
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.deepEqual(res.rawPayload, blob.content);
  });

  test('GET an unknown blob returns 404 BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const res = await getBlob(app, 'foo/bar', absentDigest());
    assertError(res, 404, 'BLOB_UNKNOWN');
  });

  test('GET a blob in a repository that does not exist returns 404 BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const res = await getBlob(app, 'never/pushed', absentDigest());
    assertError(res, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  });

  test('GET a blob with a malformed digest returns 400 DIGEST_INVALID', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const res = await getBlob(app, 'foo/bar', 'sha256:not-hex');
    assertError(res, 400, 'DIGEST_INVALID');
  });

  test('GET an empty blob returns 200 with Content-Length 0', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', Buffer.alloc(0));
    const res = await getBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.headers['docker-content-digest'], digestOf(Buffer.alloc(0)));
    assert.equal(res.rawPayload.length, 0);
  });

  test('GET a sha512 blob by its sha512 digest returns its bytes', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(300), 'sha512');
    assert.match(blob.digest, /^sha512:[a-f0-9]{128}$/);
    const res = await getBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.deepEqual(res.rawPayload, blob.content);
  });

  test('GET a blob of several MiB returns every byte', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(3 * 1024 * 1024 + 17));
    const res = await getBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(blob.size));
    assert.equal(digestOf(res.rawPayload), blob.digest);
  });
});

describe('GET /v2/<name>/blobs/<digest> with Range', () => {
  test('GET with Range bytes=a-b returns 206 with Content-Range and the slice', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
    const res = await getBlob(app, 'foo/bar', blob.digest, { range: 'bytes=10-19' });
    assert.equal(res.statusCode, 206);
    assert.equal(res.headers['content-range'], 'bytes 10-19/100');
    assert.equal(res.headers['content-length'], '10');
    assert.deepEqual(res.rawPayload, blob.content.subarray(10, 20));
  });

  // More satisfiable ranges of a 100-byte blob: 206, their Content-Range, and bytes [start, end) of the blob.
  const satisfiable = [
    {
      name: 'GET with an open-ended Range bytes=a- returns 206 with the rest of the blob',
      range: 'bytes=90-', contentRange: 'bytes 90-99/100', start: 90, end: 100,
    },
    {
      name: 'GET with a suffix Range bytes=-n returns 206 with the last n bytes',
      range: 'bytes=-5', contentRange: 'bytes 95-99/100', start: 95, end: 100,
    },
    {
      name: 'GET with a Range end past the blob end returns 206 clamped to the blob',
      range: 'bytes=50-1000', contentRange: 'bytes 50-99/100', start: 50, end: 100,
    },
    {
      name: 'GET with Range bytes=0-0 returns the first byte',
      range: 'bytes=0-0', contentRange: 'bytes 0-0/100', start: 0, end: 1,
    },
  ];
  for (const { name, range, contentRange, start, end } of satisfiable) {
    test(name, async (t) => {
      const app = await newApp(t);
      const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
      const res = await getBlob(app, 'foo/bar', blob.digest, { range });
      assert.equal(res.statusCode, 206);
      assert.equal(res.headers['content-range'], contentRange);
      assert.deepEqual(res.rawPayload, blob.content.subarray(start, end));
    });
  }

  test('GET with an unsatisfiable Range returns 416 with Content-Range bytes */size', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
    const res = await getBlob(app, 'foo/bar', blob.digest, { range: 'bytes=100-200' });
    assert.equal(res.statusCode, 416);
    assert.equal(res.headers['content-range'], 'bytes */100');
  });

  // RFC 9110 §14.2: "An origin server MUST ignore a Range header field that contains a range unit it does not understand."
  test('GET with a Range in a unit other than bytes ignores it and returns 200 with the whole blob', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
    const res = await getBlob(app, 'foo/bar', blob.digest, { range: 'items=0-5' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, blob.content);
  });

  test('GET with a satisfiable multi-range request is served (200 whole or 206), not refused with 416', async (t) => {
    // RFC 9110 §14.2: a server MAY ignore Range; 416 is for ranges none of which are satisfiable.
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', randomBlob(100));
    const res = await getBlob(app, 'foo/bar', blob.digest, { range: 'bytes=0-1,5-6' });
    assert.ok(res.statusCode === 200 || res.statusCode === 206, `got ${res.statusCode} ${res.body}`);
    if (res.statusCode === 200) assert.deepEqual(res.rawPayload, blob.content);
  });

  test('GET with any Range on an empty blob returns 416', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar', Buffer.alloc(0));
    const res = await getBlob(app, 'foo/bar', blob.digest, { range: 'bytes=0-' });
    assert.equal(res.statusCode, 416);
    assert.equal(res.headers['content-range'], 'bytes */0');
  });

  test('GET of an unknown blob with Range returns 404 BLOB_UNKNOWN, not 416', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const res = await getBlob(app, 'foo/bar', absentDigest(), { range: 'bytes=0-10' });
    assertError(res, 404, 'BLOB_UNKNOWN');
  });
});

describe('blobs are scoped to their repository', () => {
  test('a blob pushed to repository A is not visible from repository B', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'team/a');
    await pushBlob(app, 'team/b');
    const head = await headBlob(app, 'team/b', blob.digest);
    assert.equal(head.statusCode, 404);
    const get = await getBlob(app, 'team/b', blob.digest);
    assertError(get, 404, 'BLOB_UNKNOWN');
  });

  test('a blob pushed to repository A is visible from repository B after a mount', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'team/a');
    const mount = await startUpload(app, 'team/b', `?mount=${blob.digest}&from=team/a`);
    assert.equal(mount.statusCode, 201, mount.body);
    const res = await getBlob(app, 'team/b', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, blob.content);
  });

  test('a blob pushed to repository A is not visible from a parent or child path of A', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'team/a');
    for (const repo of ['team', 'team/a/sub']) {
      const res = await getBlob(app, repo, blob.digest);
      assert.equal(res.statusCode, 404, `${repo}: ${res.statusCode}`);
    }
  });
});

describe('DELETE /v2/<name>/blobs/<digest>', () => {
  test('DELETE a blob returns 202, then HEAD and GET return 404', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar');
    const del = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/blobs/${blob.digest}` });
    assert.equal(del.statusCode, 202, del.body);
    const head = await headBlob(app, 'foo/bar', blob.digest);
    assert.equal(head.statusCode, 404);
    const get = await getBlob(app, 'foo/bar', blob.digest);
    assertError(get, 404, 'BLOB_UNKNOWN');
  });

  test('DELETE an unknown blob returns 404 BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const res = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/blobs/${absentDigest()}` });
    assertError(res, 404, 'BLOB_UNKNOWN');
  });

  test('DELETE a blob twice returns 404 the second time', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar');
    assert.equal((await app.inject({ method: 'DELETE', url: `/v2/foo/bar/blobs/${blob.digest}` })).statusCode, 202);
    const again = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/blobs/${blob.digest}` });
    assertError(again, 404, 'BLOB_UNKNOWN');
  });

  test('DELETE a blob in repository A leaves it visible in repository B', async (t) => {
    const app = await newApp(t);
    const content = randomBlob();
    const blob = await pushBlob(app, 'team/a', content);
    await pushBlob(app, 'team/b', content);
    const del = await app.inject({ method: 'DELETE', url: `/v2/team/a/blobs/${blob.digest}` });
    assert.equal(del.statusCode, 202);
    const res = await getBlob(app, 'team/b', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, content);
  });

  test('a deleted blob can be pushed again', async (t) => {
    const app = await newApp(t);
    const blob = await pushBlob(app, 'foo/bar');
    await app.inject({ method: 'DELETE', url: `/v2/foo/bar/blobs/${blob.digest}` });
    await pushBlob(app, 'foo/bar', blob.content);
    const res = await getBlob(app, 'foo/bar', blob.digest);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, blob.content);
  });
});
