// Certificates made by the real openssl for tests of TLS: a CA, a server certificate it signs for the
// addresses a test registry listens on, and a client certificate it signs for mutual TLS.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Paths of the PEM files in the test's directory. */
export interface TestPki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const run = promisify(execFile);
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a CA `name` in `dir`, and a server certificate for the IP addresses `serverIps` and a client certificate signed by it. */
export async function makeTestPki(dir: string, serverIps: readonly string[], name = 'wharf-test-ca'): Promise<TestPki> {
  const path = (file: string) => join(dir, file);
  await run('openssl', ['req', '-x509', ...EC_KEY, '-days', '1', '-subj', `/CN=${name}`, '-keyout', path('ca.key'), '-out', path('ca.pem')]);
  const sign = async (leaf: string, subject: string, extensions: string) => {
    await writeFile(path(`${leaf}.ext`), extensions);
    await run('openssl', ['req', '-new', ...EC_KEY, '-subj', subject, '-keyout', path(`${leaf}.key`), '-out', path(`${leaf}.csr`)]);
    await run('openssl', ['x509', '-req', '-in', path(`${leaf}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path(`${leaf}.ext`), '-out', path(`${leaf}.pem`)]);
  };
  await sign('server', `/CN=${serverIps[0]}`, `subjectAltName=${serverIps.map((ip) => `IP:${ip}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  await sign('client', '/CN=wharf-test-client', 'extendedKeyUsage=clientAuth\n');
  return { caCert: path('ca.pem'), serverCert: path('server.pem'), serverKey: path('server.key'), clientCert: path('client.pem'), clientKey: path('client.key') };
}
