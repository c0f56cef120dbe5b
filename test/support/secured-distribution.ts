// CNCF distribution 2.8 (Debian's docker-registry) serving TLS with a test CA's certificate, with
// htpasswd users (hashed by the real `htpasswd -B`) and optionally requiring client certificates.
// It listens on a non-loopback address of this machine, since clients (Docker, Wharf) treat loopback
// registries as insecure and would not verify its certificate there.
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { onFreePort } from './free-port.js';
import { writeHtpasswd } from './htpasswd-file.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import type { TestPki } from './test-pki.js';

const READY_TIMEOUT_MS = 20_000;

/** An IPv4 address of this machine outside loopback, or undefined when it has none (no network at all). */
export function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}

export interface SecuredDistributionOptions {
  /** Holds the configuration, the htpasswd file and the storage. */
  readonly dir: string;
  /** The IP address to listen on (its server certificate must name it). */
  readonly address: string;
  readonly pki: TestPki;
  /** User name → password; none means no authentication. */
  readonly users?: Readonly<Record<string, string>>;
  /** Refuse TLS clients without a certificate signed by the test CA. */
  readonly requireClientCertificate?: boolean;
}

/** A running distribution; `host` is `ADDRESS:PORT`, as image references name it. */
export interface SecuredDistribution {
  readonly host: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts distribution and waits until it answers GET /v2/ over TLS. */
export async function startSecuredDistribution(options: SecuredDistributionOptions): Promise<SecuredDistribution> {
  const { dir, address, pki } = options;
  const auth: string[] = [];
  if (options.users) {
    await writeHtpasswd(join(dir, 'htpasswd'), options.users);
    auth.push('auth:', '  htpasswd:', '    realm: wharf-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  const server = await onFreePort(async (port) => {
    const config = join(dir, 'config.yml');
    await writeFile(config, [
      'version: 0.1',
      'log: { level: info }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      'http:',
      `  addr: ${address}:${port}`,
      '  tls:',
      `    certificate: ${pki.serverCert}`,
      `    key: ${pki.serverKey}`,
      ...(options.requireClientCertificate ? ['    clientcas:', `      - ${pki.caCert}`] : []),
      ...auth,
      '',
    ].join('\n'));
    const process = spawnServer({ name: 'docker-registry', command: 'docker-registry', args: ['serve', config], port });
    await tlsReady(process, `https://${address}:${port}/v2/`, pki);
    return process;
  });
  return {
    host: `${address}:${server.port}`,
    logs: () => server.output(),
    async stop() {
      await server.stop();
    },
  };
}

/** Polls `url` over TLS (trusting the test CA, presenting its client certificate) until anything answers. */
async function tlsReady(server: ServerProcess, url: string, pki: TestPki): Promise<void> {
  const tls = { ca: await readFile(pki.caCert), cert: await readFile(pki.clientCert), key: await readFile(pki.clientKey) };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exited()) throw new Error(`docker-registry exited before answering ${url}:\n${server.output().slice(-4000)}`);
    const answered = await new Promise<boolean>((resolve) => {
      const request = https.get(url, { ...tls, agent: false, timeout: 2_000 }, (response) => {
        response.resume();
        resolve(true);
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
    if (answered) return;
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`docker-registry did not answer ${url} within ${READY_TIMEOUT_MS} ms:\n${server.output().slice(-4000)}`);
    }
    await delay(50);
  }
}
