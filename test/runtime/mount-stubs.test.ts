import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { findMountStubs, removeMountStubs } from '../../builder/runtime/mount-stubs.js';
import { tempDir } from '../support/temp-dir.js';

const PAST = new Date('2001-02-03T04:05:06Z');

test('mount points the root filesystem lacked are removed after the run, and their directory keeps its times', async (t) => {
  const rootfs = await tempDir(t);
  await mkdir(join(rootfs, 'etc'));
  await writeFile(join(rootfs, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  const stubs = await findMountStubs(rootfs, ['/etc/hosts', '/etc/resolv.conf', '/cache/go/pkg']);
  assert.deepEqual(stubs, ['etc/resolv.conf', 'cache/go/pkg', 'cache/go', 'cache']);
  // What runc does to mount over them.
  await writeFile(join(rootfs, 'etc', 'resolv.conf'), '');
  await mkdir(join(rootfs, 'cache', 'go', 'pkg'), { recursive: true });
  await utimes(join(rootfs, 'etc'), PAST, PAST);
  await removeMountStubs(rootfs, stubs);
  assert.equal(existsSync(join(rootfs, 'etc', 'resolv.conf')), false);
  assert.equal(existsSync(join(rootfs, 'cache')), false);
  assert.equal(await readFile(join(rootfs, 'etc', 'hosts'), 'utf8'), '127.0.0.1 localhost\n', 'an existing file stays');
  assert.equal((await stat(join(rootfs, 'etc'))).mtimeMs, PAST.getTime());
});

test('what the command put in a mount point stays', async (t) => {
  const rootfs = await tempDir(t);
  const stubs = await findMountStubs(rootfs, ['/etc/hosts', '/data/in']);
  await mkdir(join(rootfs, 'data', 'in'), { recursive: true });
  await mkdir(join(rootfs, 'etc'));
  await writeFile(join(rootfs, 'etc', 'hosts'), 'written by the command\n');
  await writeFile(join(rootfs, 'data', 'kept'), '');
  await removeMountStubs(rootfs, stubs);
  assert.equal(await readFile(join(rootfs, 'etc', 'hosts'), 'utf8'), 'written by the command\n');
  assert.equal(existsSync(join(rootfs, 'data', 'in')), false, 'the empty mount point goes');
  assert.equal(existsSync(join(rootfs, 'data', 'kept')), true, 'its parent holds a file, so it stays');
});

test('symlinks are followed inside the root filesystem, before and after the run', async (t) => {
  const dir = await tempDir(t);
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'real-etc'), { recursive: true });
  await symlink('/real-etc', join(rootfs, 'etc'));
  assert.deepEqual(await findMountStubs(rootfs, ['/etc/hosts']), ['real-etc/hosts']);
  // The command replaced /real-etc with a link that, followed on the host, would leave the root filesystem.
  await mkdir(join(dir, 'host-etc'));
  await writeFile(join(dir, 'host-etc', 'hosts'), '');
  await symlink('../host-etc', join(rootfs, 'moved'));
  await writeFile(join(rootfs, 'real-etc', 'x'), '');
  await removeMountStubs(rootfs, ['moved/hosts']);
  assert.equal(existsSync(join(dir, 'host-etc', 'hosts')), true, 'a host file is never touched');
});
