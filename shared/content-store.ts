import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digester, digestOf, splitDigest, type Digest, type DigestAlgorithm } from './digest.js';

/** Raised when bytes written to the store do not hash to the digest they were announced with. */
export class ContentDigestMismatchError extends Error {
  constructor(readonly expected: Digest, readonly actual: Digest) {
    super(`content has digest ${actual}, expected ${expected}`);
  }
}

/**
 * Blobs on local disk by digest (`<root>/<algorithm>/<hex>`), as the builder's build root and the
 * registry client's pull cache keep them. A blob appears only whole and verified: bytes go to a
 * temporary file and are renamed into place after hashing, so an interrupted write leaves nothing.
 */
export class ContentStore {
  constructor(readonly root: string) {}

  /** Where a blob lives (whether or not it is there yet). */
  path(digest: Digest): string {
    const [algorithm, hex] = splitDigest(digest);
    return join(this.root, algorithm, hex);
  }

  async has(digest: Digest): Promise<boolean> {
    return (await stat(this.path(digest)).catch(() => undefined))?.isFile() ?? false;
  }

  /** The size of a stored blob, or undefined. */
  async size(digest: Digest): Promise<number | undefined> {
    return (await stat(this.path(digest)).catch(() => undefined))?.size;
  }

  /**
   * Streams bytes into the store and returns their digest and size. With `expected`, bytes that hash
   * otherwise are discarded and ContentDigestMismatchError is thrown.
   */
  async write(source: Readable, expected?: Digest): Promise<{ digest: Digest; size: number }> {
    const algorithm: DigestAlgorithm = expected ? splitDigest(expected)[0] : 'sha256';
    const digester = Digester.create(algorithm);
    let size = 0;
    const temporary = await this.temporaryPath();
    try {
      await pipeline(
        source,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            digester.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(temporary),
      );
      const digest = digester.digest();
      if (expected && digest !== expected) throw new ContentDigestMismatchError(expected, digest);
      await this.commit(temporary, digest);
      return { digest, size };
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** Stores a small blob held in memory. */
  async writeBuffer(content: Buffer): Promise<Digest> {
    const digest = digestOf(content);
    if (await this.has(digest)) return digest;
    const temporary = await this.temporaryPath();
    try {
      await writeFile(temporary, content);
      await this.commit(temporary, digest);
    } finally {
      await rm(temporary, { force: true });
    }
    return digest;
  }

  /**
   * A temporary file path inside the store, on the same filesystem, for writers that rename into
   * place via adopt(). Named after the process, so leftovers of a dead one can be told apart.
   */
  async temporaryPath(): Promise<string> {
    const temporary = join(this.temporaryDirectory(), `${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(dirname(temporary), { recursive: true });
    return temporary;
  }

  /** Moves a file whose digest the caller computed while writing it into the store. */
  async adopt(file: string, digest: Digest): Promise<void> {
    await this.commit(file, digest);
  }

  /** Where temporary files live until they are adopted. */
  temporaryDirectory(): string {
    return join(this.root, 'tmp');
  }

  open(digest: Digest): Readable {
    return createReadStream(this.path(digest), { highWaterMark: 1024 * 1024 });
  }

  read(digest: Digest): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  private async commit(file: string, digest: Digest): Promise<void> {
    const destination = this.path(digest);
    await mkdir(dirname(destination), { recursive: true });
    await rename(file, destination);
  }
}
