import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { effectiveLevel } from '../../shared/layer/gzip-worker.js';
import { createParallelGzip } from '../../shared/layer/parallel-gzip.js';

test('incompressible blocks are stored, compressible ones deflated at the level asked', () => {
  assert.equal(effectiveLevel(randomBytes(1024 * 1024), 6), 0);
  assert.equal(effectiveLevel(Buffer.alloc(1024 * 1024, 'wharf '), 6), 6);
  // Compressible text at the start of a block is enough to keep compressing it.
  assert.equal(effectiveLevel(Buffer.concat([Buffer.alloc(64 * 1024, 'text '), randomBytes(960 * 1024)]), 6), 6);
  assert.equal(effectiveLevel(randomBytes(1024), 6), 6, 'small blocks are not probed');
});

test('a stream mixing random and repetitive data round-trips and compresses the repetitive part', async () => {
  const input = Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.alloc(3 * 1024 * 1024, 'layer '), randomBytes(1024 * 1024 + 7)]);
  const gzipped = await buffer(Readable.from([input]).pipe(createParallelGzip()));
  assert.ok(gunzipSync(gzipped).equals(input));
  assert.ok(gzipped.length < 4.2 * 1024 * 1024, `repetitive data is compressed: ${gzipped.length} bytes`);
  const again = await buffer(Readable.from([input]).pipe(createParallelGzip()));
  assert.ok(again.equals(gzipped), 'same input, same bytes');
});
