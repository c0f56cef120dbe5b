import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ContextDigestCache } from '../../builder/cache/context-digest-cache.js';
import type { Digest } from '../../shared/digest.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('a file rewritten with the same size and mtime still gets its new digest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-digests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = new ContextDigestCache(join(dir, 'digests.db'));
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
  const first = new ContextDigestCache(join(dir, 'digests.db'));
  await first.sha256Hex(file);
  first.close();
  const second = new ContextDigestCache(join(dir, 'digests.db'));
  t.after(() => second.close());
  assert.equal(await second.sha256Hex(file), sha256('content'));
});

test('a selection digest is computed once, then remembered across builds', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-digests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const stamp = `sha256:${sha256('selection')}` as Digest;
  const content = `sha256:${sha256('content')}` as Digest;
  let computed = 0;
  const compute = async () => {
    computed++;
    return content;
  };
  const first = new ContextDigestCache(join(dir, 'digests.db'));
  assert.equal(await first.selectionDigest(stamp, compute), content);
  assert.equal(await first.selectionDigest(stamp, compute), content);
  first.close();
  const second = new ContextDigestCache(join(dir, 'digests.db'));
  t.after(() => second.close());
  assert.equal(await second.selectionDigest(stamp, compute), content);
  assert.equal(computed, 1);
});
