// CNCF distribution 2.8 (Debian's docker-registry) serving TLS with a test CA's certificate, with
// htpasswd users (hashed by the real `htpasswd -B`) and optionally requiring client certificates.
// It listens on a non-loopback address of this machine, since clients (Docker, Wharf) treat loopback
// registries as insecure and would not verify its certificate there.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { hasCommand } from '../e2e/harness.js';
import { onFreePort } from './free-port.js';
import { writeHtpasswd } from './htpasswd-file.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import type { TestPki } from './test-pki.js';

/** An IPv4 address of this machine outside loopback, or undefined when it has none (no network at all). */
export function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}

/**
 * Why a secured distribution cannot run on this machine, or false: docker-registry, openssl or one of
 * `more` (e.g. htpasswd) is not installed, or there is no non-loopback address to serve verified TLS on.
 */
export async function securedDistributionSkip(...more: string[]): Promise<string | false> {
  for (const command of ['docker-registry', 'openssl', ...more]) {
    if (!(await hasCommand(command))) return `${command} not installed`;
  }
  return nonLoopbackAddress() === undefined ? 'this machine has no non-loopback IPv4 address to serve verified TLS on' : false;
}

/** Makes `certsDirectory/host/` holding `files` (name there → source path), as a client's certs.d; returns `certsDirectory`. */
export async function writeCertsDirectory(certsDirectory: string, host: string, files: Readonly<Record<string, string>>): Promise<string> {
  await mkdir(join(certsDirectory, host), { recursive: true });
  for (const [name, source] of Object.entries(files)) await copyFile(source, join(certsDirectory, host, name));
  return certsDirectory;
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
export type SecuredDistribution = ServerProcess;

/** Starts distribution, its files in `dir` (made if missing), and waits until it answers GET /v2/ over TLS. */
export async function startSecuredDistribution(options: SecuredDistributionOptions): Promise<SecuredDistribution> {
  const { dir, address, pki } = options;
  await mkdir(dir, { recursive: true });
  const auth: string[] = [];
  if (options.users) {
    await writeHtpasswd(join(dir, 'htpasswd'), options.users);
    auth.push('auth:', '  htpasswd:', '    realm: wharf-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  // Readiness is probed trusting the test CA and presenting its client certificate, which a mutual-TLS registry asks for.
  const [tlsCa, cert, key] = await Promise.all([readFile(pki.caCert), readFile(pki.clientCert), readFile(pki.clientKey)]);
  return onFreePort(async (port) => {
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
    const process = spawnServer({ name: 'docker-registry', command: 'docker-registry', args: ['serve', config], address, port, tlsCa, clientCertificate: { cert, key } });
    await process.ready();
    return process;
  });
}
