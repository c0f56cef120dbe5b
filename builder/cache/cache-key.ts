import { createHash } from 'node:crypto';
import type { Digest } from '../../shared/digest.js';

/** A value a cache key is made of: strings, numbers, booleans, nested lists, and null for "absent". */
export type KeyPart = string | number | boolean | null | readonly KeyPart[];

/**
 * The digest of a structured value, length-framed so that no two different values encode alike:
 * ("ab", "c") and ("a", "bc") differ, as do a missing field and an empty one. A step's cache key is
 * this over its parent's key, the expanded instruction and everything else that decides its result.
 */
export function cacheKey(...parts: KeyPart[]): Digest {
  const hash = createHash('sha256');
  const feed = (part: KeyPart): void => {
    if (part === null) {
      hash.update('n');
    } else if (typeof part === 'string') {
      const bytes = Buffer.from(part, 'utf8');
      hash.update(`s${bytes.length}:`);
      hash.update(bytes);
    } else if (typeof part === 'number') {
      hash.update(`i${String(part)};`);
    } else if (typeof part === 'boolean') {
      hash.update(part ? 't' : 'f');
    } else {
      hash.update(`l${part.length}:`);
      for (const item of part) feed(item);
    }
  };
  feed(parts);
  return `sha256:${hash.digest('hex')}` as Digest;
}
