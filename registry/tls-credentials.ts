import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError, type TlsFiles } from './config.js';
import { firstLine, readSettingFile } from './setting-file.js';

/** What the HTTPS server is given: the PEM certificate chain (leaf first) and its private key. */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Reads and checks the TLS files before anything listens, so that a wrong path, a file that is not
 * PEM, or a key of another certificate stops `wharf serve` with one line instead of failing every handshake.
 */
export function readTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem(files.certFile, '--tls-cert');
  const key = readPem(files.keyFile, '--tls-key');
  let leaf: X509Certificate;
  try {
    // The first certificate of the file is the server's own; the ones after it are its chain.
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`--tls-cert ${files.certFile}: not a PEM certificate (${firstLine(error)})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new ConfigError(`--tls-key ${files.keyFile}: not a PEM private key (${firstLine(error)})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `--tls-key ${files.keyFile} does not belong to the first certificate in --tls-cert ${files.certFile} (${leaf.subject.replaceAll('\n', ', ')}); the certificate file must start with the server's certificate, then its intermediates`,
    );
  }
  try {
    // What the server will build: catches a malformed intermediate later in the chain.
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError(`--tls-cert ${files.certFile}: ${firstLine(error)}`);
  }
  return { cert, key };
}

function readPem(path: string, flag: string): Buffer {
  return readSettingFile(path, (why) => new ConfigError(`${flag} ${path}: ${why}`));
}
