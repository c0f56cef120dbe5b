import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config.js';
import { readSettingFile } from '../setting-file.js';

/** The key tokens are signed with, the JWS algorithm it signs with, and its id (the `kid` header). */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly algorithm: 'ES256' | 'ES384' | 'RS256' | 'EdDSA';
  readonly id: string;
}

/** Where the key comes from: a file to read, a file made on first start, or none (a new key every start). */
export type SigningKeySource = { readonly file: string; readonly create: boolean } | { readonly file?: undefined };

/**
 * The token signing key: read from `source.file` (PEM), made there on first start when `create`
 * (kept, so tokens outlive restarts), or made in memory. Throws ConfigError for a file it cannot use.
 */
export function loadSigningKey(source: SigningKeySource): SigningKey {
  if (source.file === undefined) return signingKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, '--token-key');
  const fail = (why: string) => new ConfigError(`--token-key ${source.file}: ${why}`);
  const pem = source.create && !existsSync(source.file) ? createKeyFile(source.file, fail) : readSettingFile(source.file, fail).toString('utf8');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw fail('not a PEM private key');
  }
  return signingKey(privateKey, `--token-key ${source.file}`);
}

/** Writes a new P-256 key readable by its owner only; another instance that wrote one first wins. */
function createKeyFile(file: string, fail: (why: string) => ConfigError): string {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    return pem;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw fail(`cannot create the key: ${(error as Error).message}`);
  }
}

function signingKey(privateKey: KeyObject, source: string): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' });
  const algorithm = algorithmOf(privateKey);
  if (algorithm === undefined) {
    throw new ConfigError(`${source}: a ${privateKey.asymmetricKeyType} key cannot sign tokens (use EC P-256 or P-384, RSA, or Ed25519)`);
  }
  // The key id is the key's JWK thumbprint (RFC 7638), so a token names the key that signed it.
  const members = Object.fromEntries(Object.entries(jwk).filter(([name]) => ['crv', 'e', 'kty', 'n', 'x', 'y'].includes(name)).sort(([a], [b]) => a.localeCompare(b)));
  const id = createHash('sha256').update(JSON.stringify(members)).digest('base64url');
  return { privateKey, publicKey, algorithm, id };
}

function algorithmOf(key: KeyObject): SigningKey['algorithm'] | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : undefined;
  }
  return undefined;
}
