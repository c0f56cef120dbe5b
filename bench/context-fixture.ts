/**
 * The large build context of the build benchmark, generated into a directory: a nested tree of
 * many small text files plus a few big files of incompressible bytes, and a Dockerfile that copies
 * them in two steps (big files first, so a change in the small tree invalidates only the last step).
 * Content is pseudo-random but deterministic: an AES-256-CTR keystream from a fixed key.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface ContextFixtureSpec {
  smallFiles: number;
  /** Smallest and largest small-file size in bytes (inclusive). */
  smallMinBytes: number;
  smallMaxBytes: number;
  bigFiles: number;
  bigFileBytes: number;
}

export interface ContextFixture {
  dir: string;
  spec: ContextFixtureSpec;
  smallBytes: number;
  bigBytes: number;
  /** Context-relative path of the small file the "one file changed" rebuild edits. */
  changeTarget: string;
  /** That file's original content, to put back before each cold build. */
  changeTargetOriginal: Buffer;
}

export const FIXTURE_DOCKERFILE = ['FROM scratch', 'COPY big/ /app/big/', 'COPY small/ /app/small/', ''].join('\n');

const FILES_PER_DIR = 50;
const DIRS_PER_PARENT = 20;
const CHUNK = 4 * 1024 * 1024;

/** A deterministic keystream: AES-256-CTR over zeros, with the seed as key. */
class Keystream {
  private readonly cipher: Cipher;
  private readonly zeros = Buffer.alloc(CHUNK);

  constructor(seed: string) {
    const key = Buffer.alloc(32);
    key.write(seed.padEnd(32, '.').slice(0, 32), 'latin1');
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  bytes(length: number): Buffer {
    if (length <= CHUNK) return this.cipher.update(this.zeros.subarray(0, length));
    return Buffer.concat([this.bytes(CHUNK), this.bytes(length - CHUNK)]);
  }

  /** A uniform integer in [min, max]. */
  integer(min: number, max: number): number {
    return min + (this.bytes(4).readUInt32BE(0) % (max - min + 1));
  }
}

/** `small/dNN/eNN/fNNNNN.txt`: 50 files per leaf directory, 20 leaves per parent. */
function smallPath(index: number): string {
  const leaf = Math.floor(index / FILES_PER_DIR);
  const parent = Math.floor(leaf / DIRS_PER_PARENT);
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `small/d${pad(parent, 2)}/e${pad(leaf % DIRS_PER_PARENT, 2)}/f${pad(index, 5)}.txt`;
}

/** Text-like content (hex of the keystream, in lines), as source files would be: compressible about 2:1. */
function smallContent(stream: Keystream, size: number): Buffer {
  const hex = stream.bytes(Math.ceil(size / 2)).toString('hex').slice(0, size);
  const text = Buffer.from(hex, 'latin1');
  for (let i = 79; i < text.length; i += 80) text[i] = 0x0a;
  return text;
}

async function writeBigFile(path: string, stream: Keystream, size: number): Promise<void> {
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < size; ) {
      const chunk = stream.bytes(Math.min(CHUNK, size - written));
      await file.write(chunk);
      written += chunk.length;
    }
  } finally {
    await file.close();
  }
}

/** Writes the fixture into `dir` (which must exist and be empty). */
export async function generateContextFixture(dir: string, spec: ContextFixtureSpec): Promise<ContextFixture> {
  await writeFile(join(dir, 'Dockerfile'), FIXTURE_DOCKERFILE);

  const sizes = new Keystream('wharf-bench-sizes');
  const content = new Keystream('wharf-bench-small');
  const files = Array.from({ length: spec.smallFiles }, (_, i) => ({
    path: smallPath(i),
    data: smallContent(content, sizes.integer(spec.smallMinBytes, spec.smallMaxBytes)),
  }));
  for (const directory of new Set(files.map((file) => dirname(file.path)))) await mkdir(join(dir, directory), { recursive: true });
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < files.length; i = next++) await writeFile(join(dir, files[i]!.path), files[i]!.data);
  };
  await Promise.all(Array.from({ length: 16 }, writer));

  await mkdir(join(dir, 'big'), { recursive: true });
  const big = new Keystream('wharf-bench-big');
  for (let i = 0; i < spec.bigFiles; i++) await writeBigFile(join(dir, 'big', `blob-${String(i).padStart(3, '0')}.bin`), big, spec.bigFileBytes);

  const target = files[Math.floor(files.length / 2)]!;
  return {
    dir,
    spec,
    smallBytes: files.reduce((sum, file) => sum + file.data.length, 0),
    bigBytes: spec.bigFiles * spec.bigFileBytes,
    changeTarget: target.path,
    changeTargetOriginal: target.data,
  };
}

/** Puts the edited small file back as generated. */
export async function restoreChangeTarget(fixture: ContextFixture): Promise<void> {
  await writeFile(join(fixture.dir, fixture.changeTarget), fixture.changeTargetOriginal);
}

/** Edits the small file: one line appended that names the run, so every edit is new content. Returns the bytes added. */
export async function changeOneFile(fixture: ContextFixture, label: string): Promise<number> {
  const line = Buffer.from(`\nchanged: ${label}\n`);
  await writeFile(join(fixture.dir, fixture.changeTarget), Buffer.concat([fixture.changeTargetOriginal, line]));
  return line.length;
}
