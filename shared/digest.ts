import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';

/** The digest algorithms Wharf accepts, with the hex length each one produces. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

/** A validated content digest such as `sha256:9f86…`. Build one with parseDigest or digestOf. */
export type Digest = string & { readonly __brand: 'Digest' };

/** Why a digest string was refused: malformed, or well-formed with an algorithm Wharf does not implement. */
export class DigestParseError extends Error {
  constructor(readonly input: string, readonly unsupported: boolean) {
    super(unsupported ? `unsupported digest algorithm in "${input}"` : `invalid digest "${input}"`);
  }
}

// The OCI grammar: algorithm-component ([+._-] component)* ":" encoded
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Parses and validates a digest string; throws DigestParseError. */
export function parseDigest(input: string): Digest {
  if (input.length > 256 || !DIGEST_GRAMMAR.test(input)) throw new DigestParseError(input, false);
  const [algorithm, hex] = splitDigest(input as Digest);
  const length = DIGEST_ALGORITHMS[algorithm as DigestAlgorithm];
  if (length === undefined) throw new DigestParseError(input, true);
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) throw new DigestParseError(input, false);
  return input as Digest;
}

/** Returns `[algorithm, hex]` of a digest. */
export function splitDigest(digest: Digest): [DigestAlgorithm, string] {
  const colon = digest.indexOf(':');
  return [digest.slice(0, colon) as DigestAlgorithm, digest.slice(colon + 1)];
}

/** The digest of a whole buffer. */
export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** A running digest over bytes fed to it in order; `copy()` lets a caller keep hashing after peeking. */
export class Digester {
  private constructor(readonly algorithm: DigestAlgorithm, private readonly hash: Hash) {}

  static create(algorithm: DigestAlgorithm = 'sha256'): Digester {
    return new Digester(algorithm, createHash(algorithm));
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  /** The digest of everything fed so far; the digester stays usable. */
  digest(): Digest {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}` as Digest;
  }

  /** A Writable that feeds this digester: the end of a pipeline that only needs the hash. */
  sink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.hash.update(chunk);
        done();
      },
    });
  }

  copy(): Digester {
    return new Digester(this.algorithm, this.hash.copy());
  }
}
