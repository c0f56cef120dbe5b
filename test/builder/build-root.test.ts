import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeTemporaries } from '../../builder/build-root.js';

test('temporaries of dead processes go at start; a build removes its own when interrupted', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-root-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dead = 2 ** 22 + 12345; // above Linux's pid_max default, so never alive
  const files = {
    deadBlob: join(root, 'content', 'tmp', `${dead}-abc`),
    ownBlob: join(root, 'content', 'tmp', `${process.pid}-abc`),
    deadScratch: join(root, 'tmp', `${dead}-copy-x`, 'file'),
    deadRootfs: join(root, 'rootfs', `${dead}-partial-0123`, 'etc'),
    finishedRootfs: join(root, 'rootfs', '0123abcd', 'etc'),
  };
  for (const file of Object.values(files)) {
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, 'x');
  }
  removeTemporaries(root);
  assert.equal(existsSync(files.deadBlob), false);
  assert.equal(existsSync(join(root, 'tmp', `${dead}-copy-x`)), false);
  assert.equal(existsSync(join(root, 'rootfs', `${dead}-partial-0123`)), false);
  assert.equal(existsSync(files.ownBlob), true, 'a live build keeps its temporaries');
  assert.equal(existsSync(files.finishedRootfs), true, 'finished root filesystems are cache, not temporaries');
  removeTemporaries(root, new Set([process.pid]));
  assert.equal(existsSync(files.ownBlob), false);
});
