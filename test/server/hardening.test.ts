// A real `wharf serve` process against clients that misbehave: headers and URLs too large,
// headers sent too slowly, uploads and downloads that stall (and long ones that do not), and
// names, references, digests and upload ids that try to step outside the storage directory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { tempDir } from '../support/temp-dir.js';
import { startWharf, type WharfProcess } from '../support/wharf-process.js';
import { errorCode, pushBlob, readResponse, send, startUpload, uploadOffset, type Response } from './http-client.js';
import { rawConnect, requestHead } from './raw-connection.js';
import { sha256, testBytes } from './sample-bytes.js';

const SHORT_TIMEOUTS = ['--header-timeout', '1s', '--idle-timeout', '1s'];

/** A request whose path is sent exactly as written: no URL parsing folds `..` or `%2e%2e` away. */
function sendRawPath(server: WharfProcess, method: string, path: string, body?: Buffer): Promise<Response> {
  const headers = body === undefined ? {} : { 'content-length': body.length, 'content-type': 'application/vnd.oci.image.manifest.v1+json' };
  const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers, agent: false });
  const response = readResponse(req, `${method} ${path}`);
  req.end(body);
  return response;
}

test('headers up to 32 KiB are read (a long bearer token fits); larger ones get 431 with an OCI error', async (t) => {
  const server = await startWharf({ t });
  const ok = await send(server.url, 'GET', '/v2/', { headers: { authorization: `Bearer ${'a'.repeat(20 * 1024)}` } });
  assert.equal(ok.status, 200);
  const tooLarge = await send(server.url, 'GET', '/v2/', { headers: { authorization: `Bearer ${'a'.repeat(40 * 1024)}` } });
  assert.equal(tooLarge.status, 431);
  assert.equal(errorCode(tooLarge), 'UNSUPPORTED');
  assert.match(tooLarge.body.toString(), /larger than 32768 bytes/);
});

test('a URL longer than 8 KiB gets 414 with an OCI error; the registry keeps serving', async (t) => {
  const server = await startWharf({ t });
  const res = await send(server.url, 'GET', `/v2/_catalog?last=${'a'.repeat(9 * 1024)}`);
  assert.equal(res.status, 414);
  assert.equal(errorCode(res), 'UNSUPPORTED');
  assert.match(res.body.toString(), /longer than 8192 bytes/);
  assert.equal((await send(server.url, 'GET', `/v2/_catalog?last=${'a'.repeat(4 * 1024)}`)).status, 200);
});

test('headers trickled in slower than --header-timeout get 408 and the connection is closed', async (t) => {
  const server = await startWharf({ t, args: ['--header-timeout', '1s', '--idle-timeout', '30s'] });
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  const started = Date.now();
  await conn.write(`GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
  // One header byte every 200 ms keeps the socket busy, so only the header timeout can end it.
  for (let i = 0; i < 40 && !conn.closed(); i++) {
    await conn.write('x').catch(() => {});
    await delay(200);
  }
  assert.ok(await conn.waitClosed(5_000), 'the server closed the connection');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 4_000, `closed after ${elapsed} ms`);
  assert.deepEqual(conn.statuses(), [408]);
  assert.match(conn.text(), /"code":"UNSUPPORTED"/);
});

test('a connection that sends nothing is closed after --idle-timeout', async (t) => {
  const server = await startWharf({ t, args: ['--header-timeout', '30s', '--idle-timeout', '1s'] });
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  assert.ok(await conn.waitClosed(4_000), 'closed within the idle timeout and a margin');
});

test('a PATCH whose body stalls is cut after --idle-timeout and its chunk rolled back', async (t) => {
  const server = await startWharf({ t, args: SHORT_TIMEOUTS });
  const location = await startUpload(server.url, 'hardening/stall');
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(requestHead('PATCH', location, server.port, { 'content-type': 'application/octet-stream', 'content-length': 1024 * 1024 }));
  await conn.write(testBytes(64 * 1024, 1));
  assert.ok(await conn.waitClosed(5_000), 'the stalled upload was cut');
  const { offset } = await uploadOffset(server.url, location);
  assert.equal(offset, 0, 'the partial chunk is not part of the session');
});

test('a PATCH that streams for longer than --idle-timeout, never pausing that long, completes', async (t) => {
  const server = await startWharf({ t, args: SHORT_TIMEOUTS });
  const location = await startUpload(server.url, 'hardening/slow');
  const chunks = Array.from({ length: 8 }, (_, i) => testBytes(32 * 1024, 10 + i));
  const body = Buffer.concat(chunks);
  const req = httpRequest(new URL(location, server.url), {
    method: 'PATCH',
    agent: false,
    headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
  });
  const response = readResponse(req, 'slow PATCH', 20_000);
  const started = Date.now();
  for (const chunk of chunks) {
    req.write(chunk);
    await delay(400);
  }
  req.end();
  const res = await response;
  assert.ok(Date.now() - started > 3_000, 'the upload took longer than the idle timeout');
  assert.equal(res.status, 202, res.body.toString());
  assert.equal((await uploadOffset(server.url, location)).offset, body.length);
  const done = await send(server.url, 'PUT', `${location}?digest=${sha256(body)}`);
  assert.equal(done.status, 201, done.body.toString());
});

/** GET a blob, reading no more than `allowed(elapsed ms)` bytes so far; resolves with what arrived and whether it ended cleanly. */
function throttledDownload(server: WharfProcess, path: string, allowed: (elapsed: number) => number): Promise<{ bytes: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const req = httpRequest(new URL(path, server.url), { agent: false }, (res) => {
      const started = Date.now();
      const throttle = () => (received < allowed(Date.now() - started) ? res.resume() : res.pause());
      const timer = setInterval(throttle, 20);
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        throttle();
      });
      throttle();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearInterval(timer);
        resolve({ bytes: Buffer.concat(chunks), complete: res.complete });
      };
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a download whose client stops reading is cut after --idle-timeout; one read slowly but steadily completes', { timeout: 60_000 }, async (t) => {
  const server = await startWharf({ t, args: SHORT_TIMEOUTS });
  // Larger than what the kernel and node buffer on loopback, so a client that stops reading stalls the server.
  const blob = testBytes(64 * 1024 * 1024, 99);
  const digest = await pushBlob(server.url, 'hardening/download', blob);
  const path = `/v2/hardening/download/blobs/${digest}`;

  // Reads nothing for 3 s, then everything: by then the server must have given up on it.
  const stalled = await throttledDownload(server, path, (elapsed) => (elapsed < 3_000 ? 0 : Infinity));
  assert.equal(stalled.complete, false, 'the stalled download was cut');
  assert.ok(stalled.bytes.length < blob.length, `received ${stalled.bytes.length} of ${blob.length} bytes`);

  // 4 MiB more every 200 ms: never idle for a second, though the whole takes about three.
  const started = Date.now();
  const steady = await throttledDownload(server, path, (elapsed) => (Math.floor(elapsed / 200) + 1) * 4 * 1024 * 1024);
  assert.equal(steady.complete, true);
  assert.equal(createHash('sha256').update(steady.bytes).digest('hex'), digest.slice('sha256:'.length));
  assert.ok(Date.now() - started > 2_000, 'the steady download outlasted the idle timeout');
});

/** Every file under `dir` with its size and content hash, by path relative to `dir`, skipping `skip`. */
async function snapshot(dir: string, skip: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (path === skip) continue;
      if (entry.isDirectory()) await walk(path);
      else files[relative(dir, path)] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
  };
  await walk(dir);
  return files;
}

/** A storage directory inside a folder that also holds what a traversal would reach for. */
async function storageBesideBait(t: TestContext): Promise<{ parent: string; storage: string; baitDigest: string }> {
  const parent = await tempDir(t, 'wharf-traversal-');
  const storage = join(parent, 'storage');
  const bait = Buffer.from('{"secret":"outside the storage"}');
  const baitDigest = sha256(bait);
  const hex = baitDigest.slice('sha256:'.length);
  // Laid out as a repository and a blob would be, so a path that escaped would find something to serve.
  const files: Record<string, string | Buffer> = {
    'outside/secret': 'do not serve, move or delete me',
    [`outside/_manifests/tags/latest/current/link`]: baitDigest,
    [`outside/_manifests/revisions/sha256/${hex}/link`]: baitDigest,
    [`outside/_layers/sha256/${hex}/link`]: baitDigest,
    [`outside/_uploads/0/startedat`]: new Date().toISOString(),
    [`blobs/sha256/${hex.slice(0, 2)}/${hex}/data`]: bait,
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(parent, path, '..'), { recursive: true });
    await writeFile(join(parent, path), content);
  }
  await mkdir(storage);
  return { parent, storage, baitDigest };
}

test('names, references, digests and upload ids cannot reach outside the storage directory', async (t) => {
  const { parent, storage, baitDigest } = await storageBesideBait(t);
  const server = await startWharf({ t, storage });
  const blob = testBytes(1024, 7);
  const digest = await pushBlob(server.url, 'library/foo', blob);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: blob.length }, layers: [] }));
  const before = await snapshot(parent, storage);
  const hex = baitDigest.slice('sha256:'.length);
  const upload = '/v2/library/foo/blobs/uploads';

  const cases: [method: string, path: string, status: number, code: string][] = [
    ['GET', '/v2/../outside/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', '/v2/../../outside/tags/list', 400, 'NAME_INVALID'],
    ['GET', '/v2/%2e%2e/outside/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', '/v2/%2E%2E/outside/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', '/v2/library%2F..%2F..%2Foutside/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', '/v2/library%2f%2e%2e%2f%2e%2e%2foutside/tags/list', 400, 'NAME_INVALID'],
    ['GET', `/v2/${parent}/outside/manifests/latest`, 400, 'NAME_INVALID'],
    ['GET', `/v2//etc/manifests/latest`, 400, 'NAME_INVALID'],
    ['GET', '/v2/library/foo%00/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', `/v2/../outside/blobs/${baitDigest}`, 400, 'NAME_INVALID'],
    ['DELETE', '/v2/../outside/manifests/latest', 400, 'NAME_INVALID'],
    ['PUT', '/v2/../outside/manifests/latest', 400, 'NAME_INVALID'],
    ['GET', '/api/v1/repositories/..%2Foutside', 400, 'NAME_INVALID'],
    ['GET', '/api/v1/repositories/../outside', 400, 'NAME_INVALID'],
    ['GET', '/v2/library/foo/manifests/..', 400, 'TAG_INVALID'],
    ['GET', '/v2/library/foo/manifests/%2e%2e', 400, 'TAG_INVALID'],
    ['GET', '/v2/library/foo/manifests/..%2F..%2F..%2Foutside', 400, 'TAG_INVALID'],
    ['DELETE', '/v2/library/foo/manifests/..', 400, 'TAG_INVALID'],
    ['PUT', '/v2/library/foo/manifests/.hidden', 400, 'TAG_INVALID'],
    ['GET', '/v2/library/foo/manifests/sha256:..', 400, 'DIGEST_INVALID'],
    ['GET', '/v2/library/foo/blobs/sha256:..', 400, 'DIGEST_INVALID'],
    ['GET', '/v2/library/foo/blobs/sha256:..%2F..%2F..%2Foutside%2Fsecret', 400, 'DIGEST_INVALID'],
    ['GET', `/v2/library/foo/blobs/sha256:${hex}%00`, 400, 'DIGEST_INVALID'],
    ['GET', `/v2/library/foo/blobs/sha256:${'a'.repeat(1000)}`, 400, 'DIGEST_INVALID'],
    ['GET', `/v2/library/foo/blobs/sha256:${hex.toUpperCase()}`, 400, 'DIGEST_INVALID'],
    ['DELETE', '/v2/library/foo/blobs/sha256:..', 400, 'DIGEST_INVALID'],
    ['GET', '/v2/library/foo/referrers/sha256:..%2F..', 400, 'DIGEST_INVALID'],
    ['GET', `${upload}/..`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['GET', `${upload}/%2e%2e`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['PATCH', `${upload}/..`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['PUT', `${upload}/..?digest=${digest}`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['DELETE', `${upload}/..`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['DELETE', `${upload}/%2e%2e`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['DELETE', `${upload}/_layers`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['DELETE', `${upload}/..%2F..%2F..%2F..%2Foutside`, 404, 'BLOB_UPLOAD_UNKNOWN'],
    ['PUT', `${upload}/..?digest=..%2F..%2Foutside`, 400, 'DIGEST_INVALID'],
  ];
  for (const [method, path, status, code] of cases) {
    const res = await sendRawPath(server, method, path, method === 'PUT' && path.includes('/manifests/') ? manifest : undefined);
    assert.equal(res.status, status, `${method} ${path}: ${res.body}`);
    assert.equal(errorCode(res), code, `${method} ${path}: ${res.body}`);
  }

  // A NUL byte in the request line itself is no HTTP: refused before any route, in the OCI envelope.
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(`GET /v2/library/foo\0/manifests/latest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  assert.ok(await conn.waitClosed(5_000));
  assert.deepEqual(conn.statuses(), [400]);
  assert.match(conn.text(), /"code":"UNSUPPORTED"/);

  // A mount from a name that climbs out is no mount: a plain upload session starts instead.
  const mount = await sendRawPath(server, 'POST', `${upload}/?mount=${baitDigest}&from=..%2F..%2Foutside`);
  assert.equal(mount.status, 202, mount.body.toString());
  assert.equal((await sendRawPath(server, 'GET', `/v2/library/foo/blobs/${baitDigest}`)).status, 404, 'the bait blob was not linked');

  assert.deepEqual(await snapshot(parent, storage), before, 'nothing outside the storage was changed');
  assert.ok((await stat(join(storage, 'repositories', 'library', 'foo', '_layers'))).isDirectory(), 'the repository is still there');
  assert.equal((await send(server.url, 'GET', `/v2/library/foo/blobs/${digest}`)).body.equals(blob), true, 'and still serves its blob');
  assert.deepEqual((await readdir(storage)).filter((name) => !/^(blobs|repositories|_search|search-index\.db.*)$/.test(name)), [], 'nothing new at the storage root');
});
