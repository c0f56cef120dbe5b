import { randomUUID, sign, verify } from 'node:crypto';
import type { SigningKey } from './token-signing-key.js';
import type { ResourceAccess } from './token-scope.js';

/** Who signs the tokens: the `iss` claim, checked on every token. */
const ISSUER = 'wharf-token-server';
// How far another clock may be off when `nbf` and `exp` are checked.
const LEEWAY_SECONDS = 30;

/** What a verified access token says: who it was given to (undefined: an anonymous caller) and what it grants. */
export interface AccessGrant {
  readonly user: string | undefined;
  readonly access: readonly ResourceAccess[];
}

/** What a verified refresh token says: whose it is and the fingerprint of the password it was issued for. */
export interface RefreshGrant {
  readonly user: string;
  readonly fingerprint: string;
}

interface Claims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  /** What the token is for: `access` (Bearer on registry requests) or `refresh` (a `docker login` identity token). */
  use: 'access' | 'refresh';
  access?: ResourceAccess[];
  pwf?: string;
}

/**
 * Issues and verifies the JWTs of Docker's token authentication: short-lived access tokens that
 * list what they grant, and long-lived refresh tokens that `docker login` stores as an identity token.
 */
export class TokenIssuer {
  constructor(
    private readonly key: SigningKey,
    /** The `aud` of every token: the registry's service name. */
    readonly service: string,
    private readonly accessTtlSeconds: number,
    private readonly refreshTtlSeconds: number,
  ) {}

  /** A signed access token for `user` (undefined: anonymous) granting `access`. */
  issueAccess(user: string | undefined, access: readonly ResourceAccess[], now = Date.now()): { token: string; expiresIn: number; issuedAt: string } {
    const token = this.sign({ ...this.base(now, this.accessTtlSeconds), sub: user ?? '', use: 'access', access: [...access] });
    return { token, expiresIn: this.accessTtlSeconds, issuedAt: new Date(now).toISOString() };
  }

  /** A signed refresh token for `user`, valid while their password keeps `fingerprint`. */
  issueRefresh(user: string, fingerprint: string, now = Date.now()): string {
    return this.sign({ ...this.base(now, this.refreshTtlSeconds), sub: user, use: 'refresh', pwf: fingerprint });
  }

  /** The grant of a valid access token; undefined for anything else (bad signature, expired, another issuer or audience). */
  verifyAccess(token: string, now = Date.now()): AccessGrant | undefined {
    const claims = this.verify(token, 'access', now);
    if (claims === undefined || !Array.isArray(claims.access)) return undefined;
    return { user: claims.sub === '' ? undefined : claims.sub, access: claims.access };
  }

  /** The grant of a valid refresh token; undefined for anything else. */
  verifyRefresh(token: string, now = Date.now()): RefreshGrant | undefined {
    const claims = this.verify(token, 'refresh', now);
    if (claims === undefined || claims.sub === '' || typeof claims.pwf !== 'string') return undefined;
    return { user: claims.sub, fingerprint: claims.pwf };
  }

  private base(now: number, ttlSeconds: number) {
    const iat = Math.floor(now / 1000);
    return { iss: ISSUER, aud: this.service, iat, nbf: iat, exp: iat + ttlSeconds, jti: randomUUID() };
  }

  private sign(claims: Claims): string {
    const header = { typ: 'JWT', alg: this.key.algorithm, kid: this.key.id };
    const input = `${encode(header)}.${encode(claims)}`;
    const signature = sign(hashOf(this.key.algorithm), Buffer.from(input), { key: this.key.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  private verify(token: string, use: Claims['use'], now: number): Claims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    // The algorithm is the key's, never the token's word for it.
    if (decode<{ alg?: unknown }>(header)?.alg !== this.key.algorithm) return undefined;
    const valid = verify(hashOf(this.key.algorithm), Buffer.from(`${header}.${payload}`), { key: this.key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
    if (!valid) return undefined;
    const claims = decode<Claims>(payload);
    const seconds = now / 1000;
    if (claims === undefined || claims.iss !== ISSUER || claims.aud !== this.service || claims.use !== use) return undefined;
    if (typeof claims.exp !== 'number' || typeof claims.nbf !== 'number' || typeof claims.sub !== 'string') return undefined;
    if (seconds > claims.exp + LEEWAY_SECONDS || seconds < claims.nbf - LEEWAY_SECONDS) return undefined;
    return claims;
  }
}

function hashOf(algorithm: SigningKey['algorithm']): string | null {
  return algorithm === 'EdDSA' ? null : algorithm === 'ES384' ? 'sha384' : 'sha256';
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode<T>(part: string): T | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}
