import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parseImageReference } from '../../shared/reference.js';
import { RegistryClient } from '../../shared/registry-client/client.js';
import { sendHttpRequest } from '../../shared/registry-client/http-transport.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { pullImage } from '../../shared/registry-client/remote-image.js';
import { startRegistry, temporaryStore, testImage, type TestRegistry } from './fixtures.js';

/** A self-signed certificate for 127.0.0.1, made with openssl for this test. */
async function selfSignedCertificate(t: TestContext): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ]);
  return { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) };
}

/** An HTTPS front for `registry` with an untrusted certificate; counts the requests it forwards. */
async function tlsFront(t: TestContext, registry: TestRegistry): Promise<{ host: string; forwarded: () => number }> {
  let forwarded = 0;
  const [hostname, port] = registry.host.split(':');
  const server = https.createServer(await selfSignedCertificate(t), (request, response) => {
    forwarded++;
    const upstream = http.request({ hostname, port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, forwarded: () => forwarded };
}

test('a loopback registry with an untrusted certificate is used over HTTPS without verification', async (t) => {
  const registry = await startRegistry(t);
  const front = await tlsFront(t, registry);
  const image = await testImage({ layers: [{ tls: 'unverified' }] });
  const ref = parseImageReference(`${front.host}/tls/app:1`);
  await pushImage(new RegistryClient(), image, ref);
  const pulled = await pullImage(new RegistryClient(), ref, { os: 'linux', architecture: 'amd64' }, await temporaryStore(t));
  assert.equal(pulled.digest, image.digest);
  assert.equal(front.forwarded(), registry.requests.length, 'every request went through the TLS front');
});

test('a plain HTTP registry is reached after HTTPS fails, once per client', async (t) => {
  const registry = await startRegistry(t);
  const client = new RegistryClient();
  const ref = parseImageReference(`${registry.host}/plain/app:1`);
  await pushImage(client, await testImage({ layers: [{ plain: 'http' }] }), ref);
  await pullImage(client, ref, { os: 'linux', architecture: 'amd64' }, await temporaryStore(t));
  assert.deepEqual(registry.requests.filter((line) => line === 'GET /v2/'), ['GET /v2/']);
});

test('the transport checks certificates unless its agent is told not to', async (t) => {
  const registry = await startRegistry(t);
  const front = await tlsFront(t, registry);
  const request = (verify: boolean) =>
    sendHttpRequest({
      method: 'GET',
      url: new URL(`https://${front.host}/v2/`),
      headers: {},
      httpsAgent: async () => new https.Agent({ rejectUnauthorized: verify }),
      idleTimeoutMs: 5_000,
    });
  await assert.rejects(request(true), /self-signed certificate/);
  const response = await request(false);
  response.resume();
  assert.equal(response.statusCode, 200);
});
