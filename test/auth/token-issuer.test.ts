// Access and refresh tokens: what they grant, and every way a token stops being valid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { TokenIssuer } from '../../registry/auth/token-issuer.js';
import { loadSigningKey } from '../../registry/auth/token-signing-key.js';
import { ConfigError } from '../../registry/config.js';
import { tempDir } from '../support/temp-dir.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ACCESS = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];

function issuer(service = 'wharf', key = loadSigningKey({})): TokenIssuer {
  return new TokenIssuer(key, service, 300, 3600);
}

/** The token with its payload replaced by `change(payload)`, signature kept. */
function tampered(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

test('an access token carries who it is for and what it grants, for its lifetime', () => {
  const tokens = issuer();
  const { token, expiresIn, issuedAt } = tokens.issueAccess('alice', ACCESS, NOW);
  assert.equal(expiresIn, 300);
  assert.equal(issuedAt, '2026-06-01T12:00:00.000Z');
  assert.deepEqual(tokens.verifyAccess(token, NOW), { user: 'alice', access: ACCESS });
  assert.deepEqual(tokens.verifyAccess(token, NOW + 299_000), { user: 'alice', access: ACCESS });
  assert.deepEqual(tokens.verifyAccess(tokens.issueAccess(undefined, [], NOW).token, NOW), { user: undefined, access: [] }, 'anonymous');
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(claims.aud, 'wharf');
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.exp, NOW / 1000 + 300);
  assert.equal(claims.nbf, NOW / 1000);
  assert.equal(typeof claims.jti, 'string');
});

test('expired and not-yet-valid tokens are refused (30 s of clock leeway)', () => {
  const tokens = issuer();
  const { token } = tokens.issueAccess('alice', ACCESS, NOW);
  assert.equal(tokens.verifyAccess(token, NOW + 330_000 + 1000), undefined, 'expired');
  assert.equal(tokens.verifyAccess(token, NOW - 31_000), undefined, 'before nbf');
});

test('tampered tokens, other keys, other audiences and other algorithms are refused', () => {
  const tokens = issuer();
  const { token } = tokens.issueAccess('reader', ACCESS, NOW);
  assert.equal(tokens.verifyAccess(tampered(token, (c) => (c.sub = 'alice')), NOW), undefined, 'changed subject');
  assert.equal(tokens.verifyAccess(tampered(token, (c) => (c.exp = (c.exp as number) + 3600)), NOW + 400_000), undefined, 'extended');
  assert.equal(issuer().verifyAccess(token, NOW), undefined, 'signed by another key');
  const key = loadSigningKey({});
  assert.equal(issuer('other', key).verifyAccess(issuer('wharf', key).issueAccess('alice', ACCESS, NOW).token, NOW), undefined, 'another service');
  const [, payload] = token.split('.') as [string, string];
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
  assert.equal(tokens.verifyAccess(none, NOW), undefined, 'alg none');
  const hsHeader = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const hs = `${hsHeader}.${payload}.${createHmac('sha256', 'guess').update(`${hsHeader}.${payload}`).digest('base64url')}`;
  assert.equal(tokens.verifyAccess(hs, NOW), undefined, 'HS256');
  for (const junk of ['', 'a.b', 'a.b.c', `${token}x`, 'x'.repeat(500)]) assert.equal(tokens.verifyAccess(junk, NOW), undefined, junk);
});

test('refresh and access tokens cannot stand in for each other', () => {
  const tokens = issuer();
  const refresh = tokens.issueRefresh('alice', 'fingerprint', NOW);
  assert.deepEqual(tokens.verifyRefresh(refresh, NOW + 3000_000), { user: 'alice', fingerprint: 'fingerprint' });
  assert.equal(tokens.verifyRefresh(refresh, NOW + 3700_000), undefined, 'expired');
  assert.equal(tokens.verifyAccess(refresh, NOW), undefined);
  assert.equal(tokens.verifyRefresh(tokens.issueAccess('alice', ACCESS, NOW).token, NOW), undefined);
});

test('the default key file is made once, readable by its owner only, and read again at the next start', async (t) => {
  const file = join(await tempDir(t), 'state', 'token-key.pem');
  const first = loadSigningKey({ file, create: true });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const second = loadSigningKey({ file, create: true });
  assert.equal(second.id, first.id);
  const { token } = issuer('wharf', first).issueAccess('alice', ACCESS, NOW);
  assert.deepEqual(issuer('wharf', second).verifyAccess(token, NOW)?.user, 'alice', 'a token outlives a restart');
});

test('a --token-key file made by openssl signs with its own algorithm: RSA, EC P-384, Ed25519', async (t) => {
  const dir = await tempDir(t);
  const keys: [string, string[], string][] = [
    ['rsa.pem', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], 'RS256'],
    ['p384.pem', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'ES384'],
    ['ed25519.pem', ['genpkey', '-algorithm', 'ED25519'], 'EdDSA'],
  ];
  for (const [name, args, algorithm] of keys) {
    await promisify(execFile)('openssl', [...args, '-out', join(dir, name)]);
    const key = loadSigningKey({ file: join(dir, name), create: false });
    assert.equal(key.algorithm, algorithm);
    const tokens = issuer('wharf', key);
    assert.equal(tokens.verifyAccess(tokens.issueAccess('alice', ACCESS, NOW).token, NOW)?.user, 'alice', name);
  }
});

test('a --token-key that is missing, not a key, or of a kind that cannot sign is one line', async (t) => {
  const dir = await tempDir(t);
  const refused = (file: string, pattern: RegExp) =>
    assert.throws(() => loadSigningKey({ file, create: false }), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`--token-key ${file}: `) && pattern.test(error.message));
  refused(join(dir, 'absent.pem'), /no such file/);
  await writeFile(join(dir, 'text.pem'), 'not a key\n');
  refused(join(dir, 'text.pem'), /not a PEM private key/);
  await promisify(execFile)('openssl', ['genpkey', '-algorithm', 'X25519', '-out', join(dir, 'x25519.pem')]);
  refused(join(dir, 'x25519.pem'), /cannot sign tokens/);
});
