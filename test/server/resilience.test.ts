// A real `wharf serve` process under abuse: clients that vanish mid-body, bodies shorter or
// longer than declared, restarts and SIGKILL in the middle of uploads, stale sessions.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { eventually } from '../support/eventually.js';
import { startWharf } from '../support/wharf-process.js';
import { errorCode, locationPath, pushBlob, send, startUpload, uploadOffset, withQuery, type Response } from './http-client.js';
import { rawConnect, requestHead, type RawConnection } from './raw-connection.js';
import { storedBlobMismatches, storedUploadSessions } from './stored-files.js';
import { sha256, testBytes } from './sample-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function assertHealthy(url: string): Promise<void> {
  const res = await send(url, 'GET', '/v2/');
  assert.equal(res.status, 200, 'the server should still answer GET /v2/');
}

async function assertBlobAbsent(url: string, repository: string, digest: string): Promise<void> {
  const res = await send(url, 'HEAD', `/v2/${repository}/blobs/${digest}`);
  assert.equal(res.status, 404, `blob ${digest} should not be visible in ${repository}`);
}

async function assertStorageSound(storage: string): Promise<void> {
  assert.deepEqual(await storedBlobMismatches(storage), [], 'every stored blob hashes to its digest');
}

async function assertBlobContent(url: string, repository: string, digest: string, expected: Buffer): Promise<void> {
  const res = await send(url, 'GET', `/v2/${repository}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET blob ${digest}: ${res.body.toString().slice(0, 300)}`);
  assert.equal(res.body.length, expected.length, 'blob length');
  assert.equal(sha256(res.body), digest, 'blob content hashes to its digest');
  assert.ok(res.body.equals(expected), 'blob content is byte-identical');
}

function describeResponse(res: Response): string {
  return `${res.status} ${JSON.stringify(res.headers)} ${res.body.toString('utf8').slice(0, 300)}`;
}

/** A raw connection (destroyed after the test) on which the head of a POST declaring `length` body bytes is sent; the body is the test's to send. */
async function rawMonolithicPost(t: TestContext, port: number, path: string, length: number): Promise<RawConnection> {
  const conn = await rawConnect(port);
  t.after(() => conn.destroy());
  await conn.write(requestHead('POST', path, port, { 'Content-Type': 'application/octet-stream', 'Content-Length': length }));
  return conn;
}

/** Reads the session's offset until two reads 300 ms apart agree (a failed chunk is rolled back asynchronously). */
async function settledOffset(url: string, location: string): Promise<number> {
  return eventually('upload offset settles', 10_000, async () => {
    const first = await uploadOffset(url, location);
    assert.equal(first.res.status, 204, `GET upload status: ${describeResponse(first.res)}`);
    await delay(300);
    const second = await uploadOffset(url, location);
    assert.equal(second.res.status, 204, `GET upload status: ${describeResponse(second.res)}`);
    return first.offset === second.offset ? second.offset : undefined;
  });
}

test('a client that disconnects mid-PATCH leaves a session that continues from the offset it reports', async (t) => {
  const server = await startWharf({ t });
  const repository = 'resilience/abort';
  const blob = testBytes(MiB, 1);
  const location = await startUpload(server.url, repository);

  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(requestHead('PATCH', location, server.port, { 'Content-Type': 'application/octet-stream', 'Content-Length': MiB }));
  await conn.write(blob.subarray(0, 300 * KiB));
  await delay(200);
  conn.destroy();

  // Read at once, while the server may still be noticing the abort: whatever offset it reports must
  // be one it then accepts a chunk at (retrying only while the dead request still holds the session).
  const reported = await uploadOffset(server.url, location);
  assert.equal(reported.res.status, 204, `GET upload status: ${describeResponse(reported.res)}`);
  const offset = reported.offset!;
  assert.ok(offset <= 300 * KiB, `offset ${offset} after an aborted 300 KiB chunk`);

  const rest = blob.subarray(offset);
  const patch = await eventually('PATCH from the reported offset', 10_000, async () => {
    const res = await send(server.url, 'PATCH', location, {
      body: rest,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${blob.length - 1}` },
    });
    if (res.status === 400 && errorCode(res) === 'BLOB_UPLOAD_INVALID') return undefined; // still busy
    return res;
  });
  assert.equal(patch.status, 202, `PATCH from the reported offset ${offset}: ${describeResponse(patch)}`);
  assert.equal(patch.headers.range, `0-${blob.length - 1}`);

  const digest = sha256(blob);
  const put = await send(server.url, 'PUT', withQuery(locationPath(patch), 'digest', digest));
  assert.equal(put.status, 201, `PUT ?digest: ${describeResponse(put)}`);
  await assertBlobContent(server.url, repository, digest, blob);
  await assertHealthy(server.url);
});

test('a chunk cut off mid-PATCH is rolled back to where the session was before it', async (t) => {
  const server = await startWharf({ t });
  const repository = 'resilience/rollback';
  const blob = testBytes(MiB, 8);
  const location = await startUpload(server.url, repository);
  const first = await send(server.url, 'PATCH', location, {
    body: blob.subarray(0, 100 * KiB),
    headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${100 * KiB - 1}` },
  });
  assert.equal(first.status, 202, describeResponse(first));

  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(
    requestHead('PATCH', locationPath(first), server.port, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': blob.length - 100 * KiB,
      'Content-Range': `${100 * KiB}-${blob.length - 1}`,
    }),
  );
  await conn.write(blob.subarray(100 * KiB, 400 * KiB));
  await delay(200);
  conn.destroy();

  assert.equal(await settledOffset(server.url, location), 100 * KiB, 'a failed chunk leaves the session as it was');
  const digest = sha256(blob);
  const put = await send(server.url, 'PUT', withQuery(location, 'digest', digest), {
    body: blob.subarray(100 * KiB),
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${100 * KiB}-${blob.length - 1}` },
  });
  assert.equal(put.status, 201, describeResponse(put));
  await assertBlobContent(server.url, repository, digest, blob);
});

test('a monolithic POST whose body ends early makes no blob visible', async (t) => {
  const server = await startWharf({ t });
  const repository = 'resilience/short';
  const content = testBytes(512 * KiB, 2);
  const half = content.subarray(0, content.length / 2);
  // The digest of what was promised, and the digest of what was actually sent: neither may appear.
  for (const digest of [sha256(content), sha256(half)]) {
    const conn = await rawMonolithicPost(t, server.port, `/v2/${repository}/blobs/uploads/?digest=${digest}`, content.length);
    await conn.write(half);
    conn.socket.end();
    const closed = await conn.waitClosed(10_000);
    conn.destroy();
    assert.ok(closed, `the server should close a connection whose body ended early; received ${JSON.stringify(conn.text().slice(0, 300))}`);
    assert.ok(!conn.statuses().includes(201), `a short body must not be accepted: ${conn.text().slice(0, 300)}`);

    await assertBlobAbsent(server.url, repository, sha256(content));
    await assertBlobAbsent(server.url, repository, sha256(half));
    await assertHealthy(server.url);
  }
  await assertStorageSound(server.storage);
});

test('a monolithic POST whose body runs past Content-Length creates no blob with a wrong digest', async (t) => {
  const server = await startWharf({ t });
  const repository = 'resilience/long';
  const declared = testBytes(256 * KiB, 3);
  const extra = testBytes(64 * KiB, 4);
  const everything = Buffer.concat([declared, extra]);

  // digest of everything sent: the server reads only Content-Length bytes, so this must be refused;
  // digest of the declared bytes: accepting them is fine, as long as the blob is exactly those bytes.
  for (const digest of [sha256(everything), sha256(declared)]) {
    const conn = await rawMonolithicPost(t, server.port, `/v2/${repository}/blobs/uploads/?digest=${digest}`, declared.length);
    await conn.write(everything).catch(() => {}); // the server may close before it has read everything
    // The bytes past the body are a malformed next request: expect a response, then a close.
    await conn.waitFor((text) => /HTTP\/1\.1 \d{3} /.test(text), 10_000).catch(() => {});
    const closed = await conn.waitClosed(10_000);
    conn.destroy();
    const statuses = conn.statuses();
    assert.ok(closed || statuses.length > 0, 'the server should answer or close the connection');
    // The server may answer the malformed bytes before its handler has finished with the body:
    // wait until the session it opened is gone (committed, or refused and deleted).
    await eventually('the monolithic upload is finished', 10_000, async () =>
      (await storedUploadSessions(server.storage, repository)).length === 0 ? true : undefined,
    );
    assert.ok(statuses.every((s) => s < 500), `no 5xx for a client's mistake: ${conn.text().slice(0, 500)}`);

    await assertBlobAbsent(server.url, repository, sha256(everything));
    const head = await send(server.url, 'HEAD', `/v2/${repository}/blobs/${sha256(declared)}`);
    if (digest === sha256(everything)) {
      assert.ok(!statuses.includes(201), `a digest over more than Content-Length bytes must not be accepted: ${conn.text().slice(0, 300)}`);
      assert.equal(head.status, 404, 'nothing is committed when the digest does not match');
    } else if (head.status === 200) {
      await assertBlobContent(server.url, repository, digest, declared);
    } else {
      assert.equal(head.status, 404);
    }
    await assertHealthy(server.url);
  }
  await assertStorageSound(server.storage);
});

test('an upload resumes after a restart: the hash is rebuilt from the stored bytes', async (t) => {
  const first = await startWharf({ t });
  const repository = 'resilience/restart';
  const blob = testBytes(2 * MiB + 12345, 5);
  const middle = Math.floor(blob.length / 2);
  const location = await startUpload(first.url, repository);
  const patch1 = await send(first.url, 'PATCH', location, {
    body: blob.subarray(0, middle),
    headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${middle - 1}` },
  });
  assert.equal(patch1.status, 202, describeResponse(patch1));
  const stopped = await first.stop();
  assert.deepEqual(stopped, { code: 0, signal: null }, 'SIGTERM exits 0');

  const second = await startWharf({ t, storage: first.storage });
  const status = await uploadOffset(second.url, locationPath(patch1));
  assert.equal(status.res.status, 204, `the session survives the restart: ${describeResponse(status.res)}`);
  assert.equal(status.offset, middle);

  const patch2 = await send(second.url, 'PATCH', locationPath(patch1), {
    body: blob.subarray(middle),
    headers: { 'content-type': 'application/octet-stream', 'content-range': `${middle}-${blob.length - 1}` },
  });
  assert.equal(patch2.status, 202, describeResponse(patch2));
  assert.equal(patch2.headers.range, `0-${blob.length - 1}`);
  const digest = sha256(blob);
  const put = await send(second.url, 'PUT', withQuery(locationPath(patch2), 'digest', digest));
  assert.equal(put.status, 201, describeResponse(put));
  await assertBlobContent(second.url, repository, digest, blob);
});

test('SIGKILL in the middle of uploads loses nothing committed and shows nothing half-written', async (t) => {
  const first = await startWharf({ t });
  const repository = 'resilience/crash';
  const layerA = testBytes(MiB + 7, 6);
  const digestA = await pushBlob(first.url, repository, layerA);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestA] } }));
  const configDigest = await pushBlob(first.url, repository, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestA, size: layerA.length }],
    }),
  );
  const putManifest = await send(first.url, 'PUT', `/v2/${repository}/manifests/v1`, {
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(putManifest.status, 201, describeResponse(putManifest));
  const manifestDigest = sha256(manifest);
  assert.equal(putManifest.headers['docker-content-digest'], manifestDigest);

  // Blob B streams in two ways at once, a session PATCH and a monolithic POST, and the server dies mid-stream.
  const blobB = testBytes(32 * MiB, 7);
  const digestB = sha256(blobB);
  const location = await startUpload(first.url, repository);
  const patching = await rawConnect(first.port);
  const posting = await rawConnect(first.port);
  t.after(() => {
    patching.destroy();
    posting.destroy();
  });
  await patching.write(requestHead('PATCH', location, first.port, { 'Content-Type': 'application/octet-stream', 'Content-Length': blobB.length }));
  await posting.write(
    requestHead('POST', `/v2/${repository}/blobs/uploads/?digest=${digestB}`, first.port, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': blobB.length,
    }),
  );
  const sent = 8 * MiB;
  for (let offset = 0; offset < sent; offset += 256 * KiB) {
    await patching.write(blobB.subarray(offset, offset + 256 * KiB));
    await posting.write(blobB.subarray(offset, offset + 256 * KiB));
  }
  await delay(100);
  const killed = await first.kill();
  assert.equal(killed.signal, 'SIGKILL');
  patching.destroy();
  posting.destroy();

  const second = await startWharf({ t, storage: first.storage });
  await assertBlobContent(second.url, repository, digestA, layerA);
  await assertBlobContent(second.url, repository, configDigest, config);
  for (const reference of ['v1', manifestDigest]) {
    const res = await send(second.url, 'GET', `/v2/${repository}/manifests/${reference}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.status, 200, `GET manifest ${reference}: ${describeResponse(res)}`);
    assert.ok(res.body.equals(manifest), `manifest ${reference} is byte-identical`);
    assert.equal(res.headers['docker-content-digest'], manifestDigest);
  }
  const tags = await send(second.url, 'GET', `/v2/${repository}/tags/list`);
  assert.equal(tags.status, 200);
  assert.deepEqual(JSON.parse(tags.body.toString()).tags, ['v1']);
  await assertBlobAbsent(second.url, repository, digestB);
  await assertStorageSound(second.storage);

  // The interrupted session is still there, holding at most what was sent, and can be continued.
  const status = await uploadOffset(second.url, location);
  if (status.res.status === 204) {
    assert.ok(status.offset! <= sent, `the session cannot hold more than was sent (${status.offset} > ${sent})`);
  } else {
    assert.equal(errorCode(status.res), 'BLOB_UPLOAD_UNKNOWN', describeResponse(status.res));
  }

  const pushedB = await pushBlob(second.url, repository, blobB);
  assert.equal(pushedB, digestB);
  await assertBlobContent(second.url, repository, digestB, blobB);
  assert.deepEqual(await second.stop(), { code: 0, signal: null });
});

test('stale upload sessions are purged', async (t) => {
  const server = await startWharf({ t, args: ['--upload-purge-age', '1s', '--upload-purge-interval', '1s'] });
  const repository = 'resilience/stale';
  const location = await startUpload(server.url, repository);
  const gone = await eventually('the stale session is purged', 10_000, async () => {
    const res = await send(server.url, 'GET', location);
    return res.status === 404 ? res : undefined;
  });
  assert.equal(errorCode(gone), 'BLOB_UPLOAD_UNKNOWN', describeResponse(gone));
  const patch = await send(server.url, 'PATCH', location, { body: Buffer.from('late'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(patch.status, 404, describeResponse(patch));
  assert.equal(errorCode(patch), 'BLOB_UPLOAD_UNKNOWN');
  await assertHealthy(server.url);
});

test('a purge interval longer than a 32-bit timer does not purge in a loop (30d is a valid duration)', async (t) => {
  const server = await startWharf({ t, logLevel: 'info', args: ['--upload-purge-interval', '30d'] });
  const repository = 'resilience/long-interval';
  const location = await startUpload(server.url, repository);
  const patch = await send(server.url, 'PATCH', location, { body: Buffer.from('fresh'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(patch.status, 202, describeResponse(patch));
  await delay(1_000);
  const status = await uploadOffset(server.url, location);
  assert.equal(status.res.status, 204, `a fresh session must survive: ${describeResponse(status.res)}`);
  assert.equal(status.offset, 5);
  assert.equal(server.stderr(), '', 'no TimeoutOverflowWarning');
  assert.doesNotMatch(server.stdout(), /purg/, 'nothing to purge, and no purge errors');
});

test('fresh sessions survive a purge that runs continuously', async (t) => {
  // 1ms is a valid interval: purges then run back to back, racing every session start.
  const server = await startWharf({ t, logLevel: 'info', args: ['--upload-purge-interval', '1ms'] });
  const repository = 'resilience/busy-purge';
  for (let i = 0; i < 30; i++) {
    const location = await startUpload(server.url, repository);
    const patch = await send(server.url, 'PATCH', location, { body: Buffer.from('fresh'), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(patch.status, 202, `session ${i} was purged or broken right after it started: ${describeResponse(patch)}\n${server.stdout().slice(-2000)}`);
  }
  assert.doesNotMatch(server.stdout(), /purged|purging upload sessions failed/, 'nothing stale to purge');
});
