import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parseImageReference } from '../../shared/reference.js';
import { RegistryClient } from '../../shared/registry-client/client.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { RegistryResponseError } from '../../shared/registry-client/registry-error.js';
import { pullImage } from '../../shared/registry-client/remote-image.js';
import { requestsMatching, startRegistry, temporaryStore, testImage } from './fixtures.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const fastRetries = (retries = 3) => new RegistryClient({ retries, retryDelayMs: 5 });
const unavailable = { errors: [{ code: 'UNAVAILABLE', message: 'try again later' }] };

test('with retries: 0 a 503 fails at once', async (t) => {
  const registry = await startRegistry(t, (app) =>
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.includes('/manifests/')) return reply.code(503).send(unavailable);
    }),
  );
  const image = await testImage({ layers: [{ retry: 'never' }] });
  await assert.rejects(pushImage(fastRetries(0), image, parseImageReference(`${registry.host}/flaky/app:1`)), /manifests\/1: 503 UNAVAILABLE: try again later$/);
  assert.equal(requestsMatching(registry, /manifests/).length, 1);
});

test('with retries, a 503 on the manifest and on an upload PUT are retried', async (t) => {
  const failures = new Set<string>();
  const failOnce = (key: string) => !failures.has(key) && failures.add(key);
  const registry = await startRegistry(t, (app) =>
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'GET' && request.url.includes('/manifests/') && failOnce('manifest')) return reply.code(503).send(unavailable);
      if (request.method === 'PUT' && request.url.includes('/blobs/uploads/') && failOnce('upload')) return reply.code(502).send();
    }),
  );
  const image = await testImage({ layers: [{ retry: 'twice' }] });
  const ref = parseImageReference(`${registry.host}/flaky/app:1`);
  await pushImage(fastRetries(), image, ref, { concurrency: 1 });
  const pulled = await pullImage(fastRetries(), ref, AMD64, await temporaryStore(t));
  assert.equal(pulled.digest, image.digest);
  assert.equal(requestsMatching(registry, /^GET .*\/manifests\//).length, 2);
  assert.equal(requestsMatching(registry, /^POST .*\/blobs\/uploads\//).length, 3, 'the failed upload starts over with a new session');
});

test('a connection dropped in the middle of a blob is downloaded again', async (t) => {
  let dropped = 0;
  const registry = await startRegistry(t, (app) =>
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'GET' && request.url.includes('/blobs/') && dropped === 0) {
        dropped++;
        reply.hijack();
        reply.raw.writeHead(200, { 'content-length': '100000', 'content-type': 'application/octet-stream' });
        reply.raw.write(Buffer.alloc(100));
        setTimeout(() => reply.raw.socket?.destroy(), 20);
      }
    }),
  );
  const image = await testImage({ layers: [{ drop: 'connection' }] });
  const ref = parseImageReference(`${registry.host}/flaky/blob:1`);
  await pushImage(fastRetries(), image, ref);
  const store = await temporaryStore(t);
  const pulled = await pullImage(fastRetries(), ref, AMD64, store);
  assert.equal(pulled.digest, image.digest);
  assert.equal(dropped, 1);
  assert.equal(requestsMatching(registry, /^GET .*\/blobs\//).length, 3, 'config twice (once cut off), then the layer');
});

test('a persistent 500 fails after the configured retries with the registry\'s message', async (t) => {
  const registry = await startRegistry(t, (app) =>
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.includes('/manifests/')) return reply.code(500).send({ errors: [{ code: 'UNKNOWN', message: 'disk on fire' }] });
    }),
  );
  await assert.rejects(pullImage(fastRetries(2), parseImageReference(`${registry.host}/broken/app`), AMD64, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof RegistryResponseError);
    assert.equal(error.status, 500);
    assert.match(error.message, /manifests\/latest: 500 UNKNOWN: disk on fire$/);
    return true;
  });
  assert.equal(requestsMatching(registry, /manifests/).length, 3);
});

test('a 404 is an answer, not retried', async (t) => {
  const registry = await startRegistry(t);
  await assert.rejects(pullImage(fastRetries(), parseImageReference(`${registry.host}/missing/app`), AMD64, await temporaryStore(t)), /404 MANIFEST_UNKNOWN/);
  assert.equal(requestsMatching(registry, /manifests/).length, 1);
});

test('a registry that refuses connections fails after retrying', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const started = Date.now();
  await assert.rejects(pullImage(fastRetries(2), parseImageReference(`127.0.0.1:${port}/app`), AMD64, await temporaryStore(t)), /ECONNREFUSED/);
  assert.ok(Date.now() - started < 2_000);
});
