// Certificates made by the real openssl for tests of TLS: a root CA, an intermediate CA it signs,
// a server certificate the intermediate signs for the names a test registry answers to (served
// with the intermediate, as real servers are), and a client certificate the root signs for mutual TLS.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Paths of the PEM files, all in the directory given to makeTestPki. */
export interface TestPki {
  /** The root CA certificate: what clients trust. */
  readonly caCert: string;
  /** The server certificate followed by the intermediate that signed it: what a server presents. */
  readonly serverCert: string;
  /** The server certificate alone. */
  readonly serverLeaf: string;
  readonly serverKey: string;
  /** The intermediate CA certificate alone. */
  readonly intermediateCert: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** What the server certificate names, as subjectAltName entries. */
export interface ServerNames {
  readonly ips?: readonly string[];
  readonly dns?: readonly string[];
}

const run = promisify(execFile);
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function extensions(names: ServerNames): string {
  const altNames = [...(names.ips ?? []).map((ip) => `IP:${ip}`), ...(names.dns ?? []).map((name) => `DNS:${name}`)];
  return [
    '[intermediate]',
    'basicConstraints = critical, CA:true, pathlen:0',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    '[server]',
    'basicConstraints = critical, CA:false',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${altNames.join(', ')}`,
    '[client]',
    'basicConstraints = critical, CA:false',
    'extendedKeyUsage = clientAuth',
    '',
  ].join('\n');
}

/** Makes a root CA called `name` in `dir`, and the intermediate, server and client certificates below it. */
export async function makeTestPki(dir: string, names: ServerNames, name = 'wharf-test-ca'): Promise<TestPki> {
  const at = (file: string) => join(dir, file);
  await writeFile(at('extensions.cnf'), extensions(names));
  await run('openssl', ['req', '-x509', ...EC_KEY, '-days', '2', '-subj', `/CN=${name}`, '-keyout', at('ca.key'), '-out', at('ca.pem'),
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const sign = async (leaf: string, subject: string, issuer: string, serial: string) => {
    await run('openssl', ['req', '-new', ...EC_KEY, '-subj', subject, '-keyout', at(`${leaf}.key`), '-out', at(`${leaf}.csr`)]);
    await run('openssl', ['x509', '-req', '-in', at(`${leaf}.csr`), '-CA', at(`${issuer}.pem`), '-CAkey', at(`${issuer}.key`), '-set_serial', serial,
      '-days', '2', '-extfile', at('extensions.cnf'), '-extensions', leaf, '-out', at(`${leaf}.pem`)]);
  };
  await sign('intermediate', `/CN=${name} intermediate`, 'ca', '2');
  await sign('server', `/CN=${names.dns?.[0] ?? names.ips?.[0] ?? 'server'}`, 'intermediate', '3');
  await sign('client', '/CN=wharf-test-client', 'ca', '4');
  const [leaf, intermediate] = await Promise.all([readFile(at('server.pem'), 'utf8'), readFile(at('intermediate.pem'), 'utf8')]);
  await writeFile(at('server-chain.pem'), leaf + intermediate);
  return {
    caCert: at('ca.pem'),
    serverCert: at('server-chain.pem'),
    serverLeaf: at('server.pem'),
    serverKey: at('server.key'),
    intermediateCert: at('intermediate.pem'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
  };
}
