// `wharf serve` over TLS with a certificate chain made by the real openssl (a root CA, an
// intermediate CA, a server certificate for 127.0.0.1 and localhost), reached by node's https,
// skopeo and the docker engine; the mistakes that stop it at start; and insecure-registry mode.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import {
  CommandError,
  docker,
  dockerImageExists,
  dockerUnavailableReason,
  hasCommand,
  run,
  testImage,
} from '../e2e/harness.js';
import { busyboxRootfsEntries, tarOf, writeOciLayout } from '../e2e/images.js';
import { freePort } from '../support/free-port.js';
import { tempDir } from '../support/temp-dir.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';
import { assertServeRefuses, startWharf, type WharfProcess } from '../support/wharf-process.js';
import { send } from './http-client.js';

const skopeoMissing = (await hasCommand('skopeo')) ? false : 'skopeo is not installed';
const dockerMissing = (await dockerUnavailableReason()) ?? false;

/** The test PKI, and two files of mistakes: the chain in the wrong order, and a key of no certificate here. */
interface Pki extends TestPki {
  readonly reversedChain: string;
  readonly otherKey: string;
}

async function makePki(dir: string): Promise<Pki> {
  const pki = await makeTestPki(dir, { ips: ['127.0.0.1'], dns: ['localhost'] });
  const [leaf, intermediate] = await Promise.all([readFile(pki.serverLeaf, 'utf8'), readFile(pki.intermediateCert, 'utf8')]);
  const reversedChain = join(dir, 'reversed.pem');
  await writeFile(reversedChain, intermediate + leaf);
  const otherKey = join(dir, 'other.key');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey]);
  return { ...pki, reversedChain, otherKey };
}

let pki: Pki;
let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-tls-'));
  pki = await makePki(scratch);
});
after(() => rm(scratch, { recursive: true, force: true }));

/** `wharf serve` on 127.0.0.1 with the chain and key. */
async function startTlsWharf(t: TestContext, extra: readonly string[] = []): Promise<WharfProcess> {
  return startWharf({ t, args: ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, ...extra], tlsCa: await readFile(pki.caCert) });
}

/** GET over https with node's own client, trusting `ca` (or only the system's CAs). */
function httpsGetStatus(url: string, ca: Buffer | undefined): Promise<{ status: number; apiVersion: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { agent: false, timeout: 10_000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, apiVersion: res.headers['docker-distribution-api-version'] });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer`)));
    req.on('error', reject);
  });
}

test('node https trusting only the root CA verifies the served chain (leaf + intermediate) and reaches /v2/', async (t) => {
  const server = await startTlsWharf(t);
  assert.match(server.url, /^https:\/\//);
  const ca = await readFile(pki.caCert);
  for (const host of ['127.0.0.1', 'localhost']) {
    const answer = await httpsGetStatus(`https://${host}:${server.port}/v2/`, ca);
    assert.deepEqual(answer, { status: 200, apiVersion: 'registry/2.0' }, host);
  }
  // Without the root CA, verification stops at the intermediate the server sent.
  await assert.rejects(httpsGetStatus(`${server.url}/v2/`, undefined), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  // Plain HTTP to the TLS port gets no HTTP answer at all.
  await assert.rejects(send(`http://127.0.0.1:${server.port}`, 'GET', '/v2/', { timeoutMs: 5_000 }));
});

test('a certificate file without its intermediate cannot be verified from the root CA: the chain in the file is what is served', async (t) => {
  // Readiness is checked by a client that has the intermediate itself.
  const withIntermediate = Buffer.concat([await readFile(pki.caCert), await readFile(pki.serverCert)]);
  const server = await startWharf({ t, args: ['--tls-cert', pki.serverLeaf, '--tls-key', pki.serverKey], tlsCa: withIntermediate });
  await assert.rejects(httpsGetStatus(`${server.url}/v2/`, await readFile(pki.caCert)), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('skopeo copies an image in and out over verified TLS with the CA in --dest-cert-dir / --src-cert-dir', { skip: skopeoMissing, timeout: 120_000 }, async (t) => {
  const server = await startTlsWharf(t);
  const work = await tempDir(t, 'wharf-tls-skopeo-');
  const certDir = join(work, 'certs');
  await mkdir(certDir);
  await writeFile(join(certDir, 'ca.crt'), await readFile(pki.caCert));
  const image = await writeOciLayout(join(work, 'source'), 'v1', [await tarOf(await busyboxRootfsEntries())]);
  const remote = `docker://${server.host}/tls/busybox:1`;

  await run('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=true', '--dest-cert-dir', certDir, `oci:${join(work, 'source')}:v1`, remote]);
  await run('skopeo', ['--insecure-policy', 'copy', '--src-tls-verify=true', '--src-cert-dir', certDir, remote, `oci:${join(work, 'copy')}:v1`]);
  const copied = JSON.parse(await readFile(join(work, 'copy', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.equal(copied.manifests[0]!.digest, image.manifest.digest, 'the image came back byte for byte');
  const layer = await readFile(join(work, 'copy', 'blobs', 'sha256', image.layers[0]!.digest.slice('sha256:'.length)));
  assert.equal(layer.length, image.layers[0]!.size);
});

test('skopeo without the CA refuses the registry with a certificate error', { skip: skopeoMissing, timeout: 60_000 }, async (t) => {
  const server = await startTlsWharf(t);
  const emptyCertDir = await tempDir(t, 'wharf-tls-nocerts-');
  await assert.rejects(
    run('skopeo', ['--insecure-policy', 'inspect', '--tls-verify=true', '--cert-dir', emptyCertDir, `docker://${server.host}/tls/none:1`]),
    (error: unknown) => {
      assert.ok(error instanceof CommandError, String(error));
      assert.match(error.stderr, /x509: certificate signed by unknown authority/);
      return true;
    },
  );
});

test('the docker engine pushes and pulls over TLS with the CA in /etc/docker/certs.d/HOST:PORT/ca.crt', { skip: dockerMissing, timeout: 180_000 }, async (t) => {
  const server = await startTlsWharf(t, ['--log-level', 'info']);
  const certsDir = join('/etc/docker/certs.d', server.host);
  await mkdir(certsDir, { recursive: true });
  t.after(() => rm(certsDir, { recursive: true, force: true }));
  await writeFile(join(certsDir, 'ca.crt'), await readFile(pki.caCert));

  const ref = `${server.host}/tls/busybox:1`;
  await docker(['tag', await testImage(), ref]);
  t.after(() => docker(['rmi', '-f', ref]).catch(() => {}));
  const pushed = await docker(['push', ref]);
  assert.match(pushed.stdout, /digest: sha256:[a-f0-9]{64}/);
  await docker(['rmi', ref]);
  assert.equal(await dockerImageExists(ref), false);
  await docker(['pull', ref]);
  assert.equal(await dockerImageExists(ref), true);
  // Every request the engine made reached the registry, and the registry speaks nothing but TLS.
  assert.match(server.stdout(), /"method":"PUT","url":"\/v2\/tls\/busybox\/manifests\/1","status":201/);
  assert.match(server.stdout(), /"method":"(GET|HEAD)","url":"\/v2\/tls\/busybox\/manifests\/1","status":200/);
});

test('TLS mistakes stop wharf serve at start with one line naming the setting', async () => {
  const missing = join(scratch, 'missing.pem');
  const cases: [string[], RegExp][] = [
    [['--tls-cert', pki.serverCert], /^wharf serve: --tls-cert: needs --tls-key too/],
    [['--tls-key', pki.serverKey], /^wharf serve: --tls-key: needs --tls-cert too/],
    [['--tls-cert', missing, '--tls-key', pki.serverKey], /^wharf serve: --tls-cert .*missing\.pem: no such file$/],
    [['--tls-cert', pki.serverCert, '--tls-key', missing], /^wharf serve: --tls-key .*missing\.pem: no such file$/],
    [['--tls-cert', pki.serverCert, '--tls-key', scratch], /^wharf serve: --tls-key .*: is a directory$/],
    [['--tls-cert', pki.serverKey, '--tls-key', pki.serverKey], /^wharf serve: --tls-cert .*: not a PEM certificate/],
    [['--tls-cert', pki.serverCert, '--tls-key', pki.serverCert], /^wharf serve: --tls-key .*: not a PEM private key/],
    [['--tls-cert', pki.serverCert, '--tls-key', pki.otherKey], /^wharf serve: --tls-key .*other\.key does not belong to the first certificate in --tls-cert .*\(CN=localhost\)/],
    [['--tls-cert', pki.reversedChain, '--tls-key', pki.serverKey], /does not belong to the first certificate .*must start with the server's certificate, then its intermediates$/],
  ];
  await assertServeRefuses(cases);
});

test('insecure-registry mode warns once on 0.0.0.0, naming HOST:PORT and daemon.json, and not on 127.0.0.1 or over TLS', async (t) => {
  const warning = /insecure-registry mode/;
  const port = await freePort();
  const everywhere = await startWharf({ t, port, passAddr: false, args: ['--addr', `0.0.0.0:${port}`] });
  await everywhere.waitForOutput('insecure-registry mode');
  await everywhere.stop();
  const lines = everywhere.stdoutLines().filter((line) => warning.test(line));
  assert.equal(lines.length, 1, everywhere.output());
  const { level, msg } = JSON.parse(lines[0]!) as { level: number; msg: string };
  assert.equal(level, 40, 'a warning');
  assert.match(msg, new RegExp(`:${port}" in "insecure-registries" of /etc/docker/daemon.json`));

  const loopback = await startWharf({ t });
  await loopback.stop();
  assert.doesNotMatch(loopback.output(), warning);

  const tlsPort = await freePort();
  const tls = await startWharf({
    t,
    port: tlsPort,
    passAddr: false,
    args: ['--addr', `0.0.0.0:${tlsPort}`, '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey],
    tlsCa: await readFile(pki.caCert),
  });
  await tls.stop();
  assert.doesNotMatch(tls.output(), warning);
});
