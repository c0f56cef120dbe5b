/**
 * How fast sha256 runs with a state that can be saved and restored between requests (sha.js keeps
 * it in plain fields) next to node's own, which cannot be saved: the measurement behind hashing
 * uploads in memory and re-hashing stored bytes when another instance wrote last.
 */
import { createHash, randomBytes } from 'node:crypto';
import shajs from 'sha.js';
import { megabytesPerSecond } from './stats.js';

export interface HashThroughput {
  /** node:crypto sha256, MB/s. */
  native: number;
  /** sha.js sha256, MB/s. */
  resumable: number;
}

/** Hashes `mebibytes` of random bytes, in 1 MiB chunks, with each. */
export function measureHashThroughput(mebibytes: number): HashThroughput {
  const chunk = randomBytes(1024 * 1024);
  const time = (update: (data: Buffer) => void, finish: () => void) => {
    const start = performance.now();
    for (let i = 0; i < mebibytes; i++) update(chunk);
    finish();
    return megabytesPerSecond(mebibytes * chunk.length, performance.now() - start);
  };
  const native = createHash('sha256');
  const resumable = shajs('sha256');
  return {
    native: time((data) => native.update(data), () => native.digest()),
    resumable: time((data) => resumable.update(data), () => resumable.digest()),
  };
}
