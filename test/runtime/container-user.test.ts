import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SourceTree } from '../../builder/context/build-context.js';
import { ContainerUserError, resolveContainerUser } from '../../builder/runtime/container-user.js';
import type { RootfsFileReader } from '../../builder/user-database.js';
import { tempDir } from '../support/temp-dir.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment line',
  'app:x:1000:1000:App:/home/app:/bin/sh',
  'www-data:x:33:33::/var/www:/usr/sbin/nologin',
  'broken:x:notanumber:1::/:/bin/sh',
  'app:x:9999:9999:a later duplicate, never used:/:/bin/sh',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'staff:x:50:app,www-data', 'audio:x:63:other,app', 'odd:x:bad:app', 'app:x:1000:', 'www-data:x:33:', ''].join('\n');

/** Reads files of a root filesystem made of `files` (path → content, or a symlink), symlinks resolved inside it. */
async function rootfs(t: TestContext, files: Record<string, string | { symlink: string }>): Promise<RootfsFileReader> {
  const root = join(await tempDir(t), 'rootfs');
  await mkdir(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    if (typeof content === 'string') await writeFile(join(root, path), content);
    else await symlink(content.symlink, join(root, path));
  }
  const tree = SourceTree.rootfs(root, { kind: 'image', name: 'test' });
  return (path) => tree.readFile(path);
}

const unreadable: RootfsFileReader = async (path) => assert.fail(`${path} read, though the USER needs no lookup`);

test('USER resolves as BuildKit resolves it for RUN', async (t) => {
  const read = await rootfs(t, { 'etc/passwd': PASSWD, 'etc/group': GROUP });
  const cases: [string, number, number, number[]][] = [
    ['app', 1000, 1000, [50, 63]], // primary group from passwd, memberships as supplementary groups (not 'odd': its gid is unusable)
    ['1000', 1000, 1000, [50, 63]], // a uid finds its entry too
    ['app:', 1000, 1000, [50, 63]],
    ['www-data', 33, 33, [50]],
    ['4242', 4242, 0, []], // a uid without an entry: group 0, no lookup failure
    ['app:staff', 1000, 50, []], // an explicit group: no supplementary groups
    ['app:77', 1000, 77, []],
    ['1000:staff', 1000, 50, []],
    ['4242:staff', 4242, 50, []],
    [':staff', 0, 50, []],
    ['root', 0, 0, []],
  ];
  for (const [user, uid, gid, additionalGids] of cases) assert.deepEqual(await resolveContainerUser(user, read), { uid, gid, additionalGids }, user);
});

test('an empty USER is root and uid:gid is taken as written, without reading the image', async () => {
  assert.deepEqual(await resolveContainerUser('', unreadable), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveContainerUser('1000:50', unreadable), { uid: 1000, gid: 50, additionalGids: [] });
  assert.deepEqual(await resolveContainerUser('0:0', unreadable), { uid: 0, gid: 0, additionalGids: [] });
});

test('numeric ids need no /etc/passwd or /etc/group', async (t) => {
  const read = await rootfs(t, {});
  assert.deepEqual(await resolveContainerUser('5', read), { uid: 5, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveContainerUser('5:', read), { uid: 5, gid: 0, additionalGids: [] });
});

test('unknown names are refused with a message naming them', async (t) => {
  const read = await rootfs(t, { 'etc/passwd': PASSWD, 'etc/group': GROUP });
  await assert.rejects(resolveContainerUser('nobody', read), new ContainerUserError('unable to find user nobody: no matching entries in passwd file'));
  await assert.rejects(resolveContainerUser('app:wheel', read), new ContainerUserError('unable to find group wheel: no matching entries in group file'));
  await assert.rejects(resolveContainerUser('# a comment line', read), ContainerUserError);
  const bare = await rootfs(t, {});
  await assert.rejects(resolveContainerUser('app', bare), new ContainerUserError('unable to find user app: the image has no /etc/passwd'));
  await assert.rejects(resolveContainerUser('1:staff', bare), new ContainerUserError('unable to find group staff: the image has no /etc/group'));
});

test('invalid ids are refused', async (t) => {
  const read = await rootfs(t, { 'etc/passwd': PASSWD, 'etc/group': GROUP });
  await assert.rejects(resolveContainerUser('broken', read), new ContainerUserError('invalid USER "broken": "notanumber" is not a valid user or group id'));
  await assert.rejects(resolveContainerUser('4294967295', read), /"4294967295" is not a valid user or group id/);
  await assert.rejects(resolveContainerUser('app:odd', read), /"bad" is not a valid user or group id/);
});

test('/etc/passwd and /etc/group behind symlinks are read inside the root filesystem, never outside it', async (t) => {
  const outside = 'outside:x:1:1::/:/bin/sh\napp:x:666:666::/:/bin/sh\n';
  const read = await rootfs(t, {
    // On the host, ../../escaped leaves the root filesystem; inside it, .. stops at the root.
    'etc/passwd': { symlink: '../../escaped/passwd' },
    '../escaped/passwd': outside,
    'escaped/passwd': PASSWD,
    'etc/group': { symlink: '/alternatives/group' },
    'alternatives/group': GROUP,
  });
  assert.deepEqual(await resolveContainerUser('app', read), { uid: 1000, gid: 1000, additionalGids: [50, 63] });
  await assert.rejects(resolveContainerUser('outside', read), /unable to find user outside/);
});
