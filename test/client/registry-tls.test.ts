// The client's TLS against a real CNCF distribution 2.8 serving a certificate from a CA made by
// openssl for the test, on a non-loopback address (loopback registries are never verified).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { parseImageReference } from '../../shared/reference.js';
import { RegistryClient } from '../../shared/registry-client/client.js';
import { RegistryTlsError } from '../../shared/registry-client/registry-tls.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { pullImage } from '../../shared/registry-client/remote-image.js';
import { nonLoopbackAddress, securedDistributionSkip, startSecuredDistribution, writeCertsDirectory, type SecuredDistribution } from '../support/secured-distribution.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';
import { temporaryStore, testImage } from './fixtures.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const address = nonLoopbackAddress();
const skip = await securedDistributionSkip();
if (skip) console.log(`# skipping registry TLS tests: ${skip}`);

describe('registry TLS: CAs and client certificates', { skip }, () => {
  let dir: string;
  let pki: TestPki;
  let registry: SecuredDistribution;
  let mutual: SecuredDistribution;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-registry-tls-'));
    pki = await makeTestPki(dir, { ips: [address!] });
    registry = await startSecuredDistribution({ dir: join(dir, 'plain'), address: address!, pki });
    mutual = await startSecuredDistribution({ dir: join(dir, 'mutual'), address: address!, pki, requireClientCertificate: true });
  });

  after(async () => {
    await registry?.stop();
    await mutual?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A certs.d folder `name` holding, for `host`, the files given as name → source path. */
  const certsDirectory = (name: string, host: string, files: Record<string, string>) => writeCertsDirectory(join(dir, name), host, files);

  /** Pushes a small image with `client` and pulls it back. */
  async function roundTrip(t: TestContext, client: RegistryClient, host: string, name: string): Promise<void> {
    const image = await testImage({ layers: [{ [name]: 'tls' }], label: name });
    const ref = parseImageReference(`${host}/tls/${name}:1`);
    await pushImage(client, image, ref);
    assert.equal((await pullImage(client, ref, AMD64, await temporaryStore(t))).digest, image.digest);
  }

  test('without its CA the registry is refused, saying how to trust it', async (context) => {
    const empty = join(dir, 'no-certs');
    const ref = parseImageReference(`${registry.host}/tls/untrusted:1`);
    await assert.rejects(pullImage(new RegistryClient({ certsDirectory: empty }), ref, AMD64, await temporaryStore(context)), (error: Error) => {
      assert.equal(
        error.message,
        `https://${registry.host}/v2/: the registry's certificate is not trusted (unable to get local issuer certificate): add its CA as ${join(empty, registry.host, 'ca.crt')} or with --registry-ca FILE, or pass --insecure-registry ${registry.host}`,
      );
      return true;
    });
  });

  test('another CA in its certs.d folder does not make it trusted', async (context) => {
    const other = await makeTestPki(await mkdtemp(join(dir, 'other-')), { ips: [address!] }, 'another-ca');
    const certs = await certsDirectory('certs-other', registry.host, { 'ca.crt': other.caCert });
    const ref = parseImageReference(`${registry.host}/tls/other:1`);
    await assert.rejects(pullImage(new RegistryClient({ certsDirectory: certs }), ref, AMD64, await temporaryStore(context)), /certificate is not trusted/);
  });

  test('its CA as certs.d/HOST:PORT/ca.crt: push and pull over verified TLS', async (context) => {
    const certs = await certsDirectory('certs-ca', registry.host, { 'ca.crt': pki.caCert });
    await roundTrip(context, new RegistryClient({ certsDirectory: certs }), registry.host, 'certsd');
  });

  test('its CA as a CA file for every registry: push and pull over verified TLS', async (context) => {
    await roundTrip(context, new RegistryClient({ certsDirectory: join(dir, 'no-certs'), caFiles: [pki.caCert] }), registry.host, 'cafile');
  });

  test('a registry requiring client certificates accepts the *.cert and *.key pair of its certs.d folder', async (context) => {
    const withCertificate = await certsDirectory('certs-client', mutual.host, { 'ca.crt': pki.caCert, 'client.cert': pki.clientCert, 'client.key': pki.clientKey });
    await roundTrip(context, new RegistryClient({ certsDirectory: withCertificate }), mutual.host, 'mutual');

    const withoutCertificate = await certsDirectory('certs-no-client', mutual.host, { 'ca.crt': pki.caCert });
    const ref = parseImageReference(`${mutual.host}/tls/mutual:1`);
    await assert.rejects(
      pullImage(new RegistryClient({ certsDirectory: withoutCertificate }), ref, AMD64, await temporaryStore(context)),
      new Error(`https://${mutual.host}/v2/: the registry refused the TLS handshake (sslv3 alert bad certificate): it wants a client certificate it trusts, as ${join(withoutCertificate, mutual.host)}/NAME.cert with NAME.key`),
    );
  });

  test('a client certificate without its key is one error naming the folder', async (context) => {
    const certs = await certsDirectory('certs-no-key', mutual.host, { 'ca.crt': pki.caCert, 'client.cert': pki.clientCert });
    const ref = parseImageReference(`${mutual.host}/tls/nokey:1`);
    await assert.rejects(
      pullImage(new RegistryClient({ certsDirectory: certs }), ref, AMD64, await temporaryStore(context)),
      new RegistryTlsError(`${join(certs, mutual.host)}: client certificate client.cert has no key client.key (CA certificates end in .crt)`),
    );
  });
});
