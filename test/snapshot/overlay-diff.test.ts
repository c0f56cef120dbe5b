import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { materializeRootfs } from '../../builder/rootfs.js';
import { LayerSnapshots } from '../../builder/snapshot/layer-snapshots.js';
import { OverlayDiffError, overlayDiff } from '../../builder/snapshot/overlay-diff.js';
import { withOverlay } from '../../builder/snapshot/overlay-mount.js';
import { ContentStore } from '../../shared/content-store.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { writeLayer } from '../../shared/layer/layer-writer.js';
import type { StoredLayer } from '../../shared/layer/stored-layer.js';
import { readTar } from '../support/tar-reading.js';
import { tempDir } from '../support/temp-dir.js';
import { describeTree, differences, dir, file, layerOf, run, symlink } from './fixtures.js';

const CAPABILITY = Buffer.from('0100000280200000000000000000000000000000', 'hex'); // cap_setuid,cap_net_raw+ep
const LONG_DIR = `${'a'.repeat(120)}/${'b'.repeat(200)}`; // a path over 255 bytes, in names under 255
const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };

/** The base image: three layers with a whiteout, an opaque directory and every kind of node. */
async function baseLayers(store: ContentStore): Promise<StoredLayer[]> {
  return [
    await layerOf(store, [
      dir('etc'),
      file('etc/passwd', 'root:x:0:0\n'),
      dir('etc/app'),
      file('etc/app/old.conf', 'old'),
      file('etc/app/keep.conf', 'keep'),
      dir('usr/bin'),
      file('usr/bin/ping', 'ping', { mode: 0o4755, xattrs: { 'security.capability': CAPABILITY } }),
      file('usr/bin/tool', 'tool', { mode: 0o755 }),
      { type: 'hardlink', path: 'usr/bin/tool-alias', ...meta, mode: 0o755, target: 'usr/bin/tool' },
      symlink('usr/bin/sh', 'busybox'),
      dir('var/lib/data'),
      file('var/lib/data/a', 'a'),
      file('var/lib/data/b', 'b'),
      dir('home/user', { uid: 1000, gid: 1000, mode: 0o700 }),
      file('home/user/notes', 'notes', { uid: 1000, gid: 1000, mode: 0o600, xattrs: { 'user.tag': Buffer.from('mine') } }),
      file(`deep/${LONG_DIR}/file`, 'deep'),
      { type: 'char-device', path: 'dev/null', ...meta, mode: 0o666, major: 1, minor: 3 },
      { type: 'fifo', path: 'run/initctl', ...meta, mode: 0o600 },
    ]),
    await layerOf(store, [
      dir('etc/app'),
      { type: 'whiteout', path: 'etc/app/old.conf' },
      file('etc/passwd', 'root:x:0:0\nuser:x:1000:1000\n'),
      dir('var/lib/data'),
      { type: 'opaque', path: 'var/lib/data' },
      file('var/lib/data/c', 'c'),
    ], 'none'),
    await layerOf(store, [dir('opt'), file('opt/three', '3')], 'zstd'),
  ];
}

/** What the RUN step does, with the tools a Dockerfile's RUN would use. */
const RUN_SCRIPT = `
set -e
echo new > etc/new.txt
setfattr -n user.note -v hi etc/new.txt
echo more >> etc/passwd
chown 1234:5678 etc/passwd
rm usr/bin/sh
rm -rf etc/app && mkdir etc/app && echo fresh > etc/app/fresh.conf
mv usr/bin/tool usr/bin/tool2
mv deep deeper
ln -s /usr/bin/busybox usr/bin/vi
mkdir -p home/links && echo linked > home/links/one && ln home/links/one home/links/two && ln home/links/one home/links/three
mkfifo -m 640 run/new.fifo
mknod -m 600 dev/zero c 1 5
chmod 4711 usr/bin/ping
cp -p usr/bin/tool2 usr/bin/capped && setfattr -n security.capability -v 0x${CAPABILITY.toString('hex')} usr/bin/capped
mkdir -p long/${LONG_DIR} && echo long > long/${LONG_DIR}/leaf
touch -d @1650000000 opt
`;

describe('overlayDiff', () => {
  let root: string;
  let store: ContentStore;
  let base: StoredLayer[];
  let merged: Map<string, string>;
  let mergedContent: Map<string, string>;
  let entries: LayerEntry[];
  let layer: StoredLayer;
  let upperDir: string;

  // The tests of this suite are the steps of one RUN, in order, sharing one scratch directory.
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'wharf-diff-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a RUN over a three-layer base: the merged view shows the lower layers as the image does', async () => {
    store = new ContentStore(join(root, 'content'));
    base = await baseLayers(store);
    const lowers = await new LayerSnapshots(join(root, 'snapshots')).prepare(base);
    const run1 = join(root, `${process.pid}-run`);
    upperDir = join(run1, 'upper');
    await withOverlay({ lowerDirs: [...lowers].reverse(), upperDir, workDir: join(run1, 'work'), target: join(run1, 'merged') }, async (view) => {
      assert.deepEqual((await readdir(join(view, 'etc/app'))).sort(), ['keep.conf'], 'the whiteout hides old.conf');
      assert.deepEqual(await readdir(join(view, 'var/lib/data')), ['c'], 'the opaque directory hides a and b');
      assert.equal(await readFile(join(view, 'etc/passwd'), 'utf8'), 'root:x:0:0\nuser:x:1000:1000\n');
      assert.equal(await readFile(join(view, 'opt/three'), 'utf8'), '3');
      assert.equal(await readFile(join(view, 'deep', LONG_DIR, 'file'), 'utf8'), 'deep');
      await run('sh', ['-c', RUN_SCRIPT], { cwd: view });
      merged = await describeTree(view);
      mergedContent = await describeTree(view, { metadata: false });
    });
    assert.ok(merged.get('usr/bin/ping')?.includes(`security.capability=${CAPABILITY.toString('hex')}`), 'chmod keeps the capability');
  });

  test('the upper dir becomes entries: whiteouts, an opaque directory, hardlinks, devices, fifos, xattrs, copied-up parents', async () => {
    entries = await overlayDiff(upperDir);
    const byPath = new Map(entries.map((entry) => [`${entry.type} ${entry.path}`, entry as LayerEntry & Record<string, unknown>]));
    const kinds = entries.map((entry) => `${entry.type} ${entry.path}`).sort();
    for (const expected of [
      'whiteout usr/bin/sh',
      'whiteout usr/bin/tool',
      'whiteout deep',
      'directory etc/app',
      'opaque etc/app',
      'file etc/app/fresh.conf',
      'file usr/bin/tool2',
      'symlink usr/bin/vi',
      'file home/links/one',
      'hardlink home/links/three',
      'hardlink home/links/two',
      'fifo run/new.fifo',
      'char-device dev/zero',
      'directory usr/bin',
      'directory opt',
      `file long/${LONG_DIR}/leaf`,
      `file deeper/${LONG_DIR}/file`,
    ]) {
      assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(', ')}`);
    }
    assert.ok(!kinds.some((kind) => kind.startsWith('opaque ') && kind !== 'opaque etc/app'), 'only the recreated directory is opaque');
    assert.ok(!kinds.includes('file var/lib/data/c'), 'untouched lower files are not in the change set');
    const field = (key: string, name: string): unknown => byPath.get(key)?.[name];
    assert.equal(field('hardlink home/links/two', 'target'), 'home/links/one');
    assert.deepEqual(['mode', 'uid', 'gid', 'major', 'minor'].map((name) => field('char-device dev/zero', name)), [0o600, 0, 0, 1, 5]);
    assert.equal(field('fifo run/new.fifo', 'mode'), 0o640);
    assert.deepEqual(field('file usr/bin/capped', 'xattrs'), { 'security.capability': CAPABILITY });
    assert.deepEqual(field('file etc/new.txt', 'xattrs'), { 'user.note': Buffer.from('hi') });
    assert.deepEqual(['mode', 'uid', 'gid'].map((name) => field('file etc/passwd', name)), [0o644, 1234, 5678]);
    assert.equal(field('file usr/bin/ping', 'mode'), 0o4711);
    assert.equal(field('directory opt', 'mtime'), 1_650_000_000);
    for (const entry of entries) {
      assert.ok(!entry.path.startsWith('/') && !entry.path.endsWith('/'), entry.path);
      const xattrs = 'xattrs' in entry ? Object.keys(entry.xattrs ?? {}) : [];
      assert.ok(!xattrs.some((name) => name.startsWith('trusted.')), `${entry.path} carries no trusted.* xattr`);
    }
  });

  test('written as a layer and unpacked over the base, the image is the merged view, byte for byte and bit for bit', async () => {
    layer = await writeLayer(entries, store, { compression: 'gzip', format: 'oci' });
    const names = (await readTar(gunzipSync(await store.read(layer.descriptor.digest)))).map((entry) => entry.header.name);
    for (const name of ['usr/bin/.wh.sh', 'etc/app/.wh..wh..opq', '.wh.deep', 'dev/zero', 'run/new.fifo']) assert.ok(names.includes(name), name);

    const lowers = await new LayerSnapshots(join(root, 'snapshots')).prepare([...base, layer]);
    const run2 = join(root, `${process.pid}-check`);
    await withOverlay({ lowerDirs: [...lowers].reverse(), upperDir: join(run2, 'upper'), workDir: join(run2, 'work'), target: join(run2, 'merged') }, async (view) => {
      assert.deepEqual(differences(merged, await describeTree(view)), []);
    });
  });

  test('the chain unpacked into one root filesystem (COPY --from) has the same files, links and contents', async () => {
    const rootfs = await materializeRootfs([...base, layer], join(root, 'rootfs'));
    // rootfs.ts skips devices and fifos, and its metadata is not a snapshot's (no xattrs): compare the rest.
    const kept = (tree: Map<string, string>) => new Map([...tree].filter(([, line]) => !/^(fifo|char) /.test(line)));
    assert.deepEqual(differences(kept(mergedContent), kept(await describeTree(rootfs, { metadata: false }))), []);
  });

  test('adopting the upper dir gives the same image as unpacking the layer, without unpacking it', async () => {
    const snapshots = new LayerSnapshots(join(root, 'adopted'));
    await snapshots.prepare(base);
    const marker = (await lstat(join(upperDir, 'etc/new.txt'))).ino;
    const adopted = await snapshots.adopt(base, layer, upperDir);
    await assert.rejects(lstat(upperDir), { code: 'ENOENT' });
    assert.equal((await lstat(join(adopted, 'etc/new.txt'))).ino, marker, 'the snapshot is the upper dir, moved');
    const opened = { count: 0 };
    const watched = { ...layer, descriptor: layer.descriptor, diffId: layer.diffId, open: () => (opened.count++, layer.open()) };
    const lowers = await snapshots.prepare([...base, watched]);
    assert.equal(lowers.at(-1), adopted);
    assert.equal(opened.count, 0);
    const run3 = join(root, `${process.pid}-adopted`);
    await withOverlay({ lowerDirs: [...lowers].reverse(), upperDir: join(run3, 'upper'), workDir: join(run3, 'work'), target: join(run3, 'merged') }, async (view) => {
      assert.deepEqual(differences(merged, await describeTree(view)), []);
      await writeFile(join(view, 'etc/new.txt'), 'changed by the next RUN');
    });
    assert.equal(await readFile(join(adopted, 'etc/new.txt'), 'utf8'), 'new\n', 'a lower dir is never written');
  });
});

test('an upper dir with a redirect or metacopy (another mount’s options) is refused, not misread', async (t) => {
  const upper = await tempDir(t, 'wharf-diff-');
  await mkdir(join(upper, 'moved'));
  await run('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/original', join(upper, 'moved')]);
  await assert.rejects(overlayDiff(upper), (error: Error) => error instanceof OverlayDiffError && /redirect_dir=off,metacopy=off/.test(error.message));
});
