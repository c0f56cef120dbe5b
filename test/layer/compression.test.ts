import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { createCompressor, nativeZstdAvailable, zstdUnavailableReason } from '../../shared/layer/compression.js';
import { createParallelGzip, DEFAULT_GZIP_BLOCK_SIZE, type ParallelGzipOptions } from '../../shared/layer/parallel-gzip.js';
import { sha256 } from '../support/tar-reading.js';

const run = promisify(execFile);

/** Several MiB that compress like a layer: text, binary, random and zero runs. */
function mixedData(mib: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < mib * 1024 * 1024; i++) {
    const part =
      i % 4 === 0 ? Buffer.from(`line ${i}: the quick brown fox jumps over the lazy dog\n`.repeat(2000))
      : i % 4 === 1 ? randomBytes(100_000)
      : i % 4 === 2 ? Buffer.alloc(150_000, i)
      : Buffer.from(Array.from({ length: 50_000 }, (_, j) => (j * i) & 0xff));
    parts.push(part);
    size += part.length;
  }
  return Buffer.concat(parts).subarray(0, mib * 1024 * 1024 + 12345);
}

/** Feeds `data` in chunks of `chunkSize` through the stream and returns its output. */
async function through(stream: Duplex, data: Buffer, chunkSize = 64 * 1024): Promise<Buffer> {
  const chunks = function* () {
    for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
  };
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks()), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

const gzip = (data: Buffer, options: ParallelGzipOptions = {}, chunkSize?: number): Promise<Buffer> => through(createParallelGzip(options), data, chunkSize);

describe('parallel gzip', () => {
  const data = mixedData(6);

  test('gunzip gives back the input (multi-MiB, several blocks)', async () => {
    const compressed = await gzip(data);
    assert.ok(compressed.length < data.length * 0.8, 'it compresses');
    assert.ok(gunzipSync(compressed).equals(data));
  });

  test('one gzip member: a standard header with mtime 0 and a trailer with CRC-32 and length', async () => {
    const compressed = await gzip(data);
    assert.deepEqual([...compressed.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    assert.equal(compressed.readUInt32LE(compressed.length - 4), data.length);
    const crc = (zlib as { crc32?: (d: Buffer) => number }).crc32;
    if (crc) assert.equal(compressed.readUInt32LE(compressed.length - 8), crc(data) >>> 0);
    // A single raw deflate stream follows the header: inflating it consumes everything up to the trailer.
    assert.ok(zlib.inflateRawSync(compressed.subarray(10, compressed.length - 8)).equals(data));
  });

  test('deterministic: same bytes whatever the chunking and the number of workers', async () => {
    const reference = sha256(await gzip(data));
    assert.equal(sha256(await gzip(data, {}, 1000)), reference);
    assert.equal(sha256(await gzip(data, {}, 3 * 1024 * 1024 + 1)), reference);
    assert.equal(sha256(await gzip(data, { workers: 1 })), reference);
    assert.equal(sha256(await gzip(data, { workers: 3 })), reference);
  });

  test('empty input, one byte, and an exact multiple of the block size', async () => {
    for (const input of [Buffer.alloc(0), Buffer.from('x'), data.subarray(0, 2 * DEFAULT_GZIP_BLOCK_SIZE)]) {
      assert.ok(gunzipSync(await gzip(input)).equals(input), `${input.length} bytes`);
    }
  });

  test('levels and block sizes round-trip', async () => {
    const sample = data.subarray(0, 1_500_000);
    for (const options of [{ level: 1 }, { level: 9 }, { level: 0 }, { blockSize: 64 * 1024 }]) {
      assert.ok(gunzipSync(await gzip(sample, options)).equals(sample), JSON.stringify(options));
    }
    assert.throws(() => createParallelGzip({ level: 10 }), RangeError);
    assert.throws(() => createParallelGzip({ blockSize: 1000 }), RangeError);
  });

  test('gzip(1) accepts it', async (t) => {
    try {
      await run('gzip', ['--version']);
    } catch {
      t.skip('gzip not installed');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'wharf-gzip-'));
    try {
      const path = join(dir, 'data.gz');
      await writeFile(path, await gzip(data));
      await run('gzip', ['-t', path]);
      await run('gzip', ['-d', path]);
      assert.ok((await readFile(join(dir, 'data'))).equals(data));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('compressors', () => {
  const data = mixedData(3);

  test('none passes bytes through', async () => {
    assert.ok((await through(await createCompressor('none'), data)).equals(data));
  });

  test('gzip is the parallel gzip', async () => {
    assert.equal(sha256(await through(await createCompressor('gzip'), data)), sha256(await gzip(data)));
  });

  test('zstd round-trips and is deterministic', async (t) => {
    const reason = await zstdUnavailableReason();
    if (reason) {
      t.skip(reason);
      return;
    }
    const compressed = await through(await createCompressor('zstd'), data);
    assert.deepEqual([...compressed.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd frame magic');
    assert.equal(sha256(await through(await createCompressor('zstd'), data, 777)), sha256(compressed));
    let decompressed: Buffer;
    const native = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer };
    if (nativeZstdAvailable() && native.zstdDecompressSync) {
      decompressed = native.zstdDecompressSync(compressed);
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'wharf-zstd-'));
      try {
        await writeFile(join(dir, 'd.zst'), compressed);
        await run('zstd', ['-q', '-d', join(dir, 'd.zst'), '-o', join(dir, 'd')]);
        decompressed = await readFile(join(dir, 'd'));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    assert.ok(decompressed.equals(data));
  });

  test('an out-of-range zstd level is refused', async () => {
    await assert.rejects(createCompressor('zstd', { level: 42 }), RangeError);
  });

  test('an unknown compression is refused', async () => {
    await assert.rejects(createCompressor('brotli' as 'gzip'), RangeError);
  });
});
