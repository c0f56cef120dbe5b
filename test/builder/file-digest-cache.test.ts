import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileDigestCache } from '../../builder/cache/file-digest-cache.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('a file rewritten with the same size and mtime still gets its new digest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-digests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = new FileDigestCache(join(dir, 'digests.db'));
  t.after(() => cache.close());
  const file = join(dir, 'a.txt');
  await writeFile(file, 'first');
  assert.equal(await cache.sha256Hex(file), sha256('first'));
  assert.equal(await cache.sha256Hex(file), sha256('first'));
  await writeFile(file, 'other');
  const old = new Date('2020-01-01T00:00:00Z');
  await utimes(file, old, old);
  assert.equal(await cache.sha256Hex(file), sha256('other'));
});

test('digests survive in the database for the next build', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-digests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.txt');
  await writeFile(file, 'content');
  const first = new FileDigestCache(join(dir, 'digests.db'));
  await first.sha256Hex(file);
  first.close();
  const second = new FileDigestCache(join(dir, 'digests.db'));
  t.after(() => second.close());
  assert.equal(await second.sha256Hex(file), sha256('content'));
});
