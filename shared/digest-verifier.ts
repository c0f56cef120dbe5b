import { Transform } from 'node:stream';
import { Digester, splitDigest, type Digest } from './digest.js';

/**
 * A pass-through stage that fails the stream at its end when the bytes through it do not hash to
 * `digest`, with the error `mismatch` makes of the digest they had.
 */
export function digestVerifier(digest: Digest, mismatch: (actual: Digest) => Error): Transform {
  const digester = Digester.create(splitDigest(digest)[0]);
  return new Transform({
    readableHighWaterMark: 1024 * 1024,
    writableHighWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, done) {
      digester.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = digester.digest();
      done(actual === digest ? null : mismatch(actual));
    },
  });
}
