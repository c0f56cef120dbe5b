import assert from 'node:assert/strict';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import tar from 'tar-stream';
import { UnsafeLayerEntryError } from '../../builder/layer-reader.js';
import { chainIds, LayerSnapshots } from '../../builder/snapshot/layer-snapshots.js';
import { readXattrTree } from '../../builder/snapshot/xattrs.js';
import { ContentStore } from '../../shared/content-store.js';
import type { Digest } from '../../shared/digest.js';
import type { Layer } from '../../shared/image.js';
import { MediaType } from '../../shared/media-types.js';
import { StoredLayer } from '../../shared/layer/stored-layer.js';
import { collect, sha256 } from '../support/tar-reading.js';
import { tempDir } from '../support/temp-dir.js';
import { dir, file, layerOf, run, symlink } from './fixtures.js';

// cap_setuid,cap_net_raw+ep (VFS_CAP_REVISION_2): the 0x80 byte is not valid UTF-8 on its own.
const CAPABILITY = Buffer.from('0100000280200000000000000000000000000000', 'hex');

/** A layer whose tar is written by hand (tar-stream), for entries Wharf's own writer refuses. */
async function rawLayer(store: ContentStore, entries: { header: Partial<tar.Header> & Pick<tar.Header, 'name'>; body?: string }[]): Promise<Layer> {
  const pack = tar.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  const bytes = await collect(pack as unknown as Readable);
  const { digest, size } = await store.write(Readable.from([bytes]));
  return new StoredLayer(store, { mediaType: MediaType.OciLayer, digest, size }, sha256(bytes) as Digest);
}

/** The layer, counting how often its bytes are opened. */
function counted(layer: Layer): Layer & { opened: number } {
  const wrapper = { descriptor: layer.descriptor, diffId: layer.diffId, opened: 0, open: () => (wrapper.opened++, layer.open()) };
  return wrapper;
}

describe('LayerSnapshots', () => {
  test('each layer alone in lower-dir form: whiteouts are 0:0 devices, opaque dirs have the xattr, metadata as in the tar', async (t) => {
    const root = await tempDir(t, 'wharf-snapshots-');
    const store = new ContentStore(join(root, 'content'));
    const base = await layerOf(store, [
      dir('etc'),
      file('etc/passwd', 'root:x:0:0\n'),
      file('etc/shadow', 'secret', { mode: 0o640, uid: 0, gid: 42 }),
      dir('usr/bin', { mode: 0o750, uid: 1000, gid: 1000, mtime: 1_600_000_000 }),
      file('usr/bin/ping', 'ping', { mode: 0o4755, xattrs: { 'security.capability': CAPABILITY, 'user.origin': Buffer.from('base') } }),
      file('usr/bin/tool', 'tool', { mode: 0o755 }),
      { type: 'hardlink', path: 'usr/bin/tool-alias', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, target: 'usr/bin/tool' },
      symlink('usr/bin/sh', 'busybox'),
      { type: 'char-device', path: 'dev/null', mode: 0o666, uid: 0, gid: 0, mtime: 1_700_000_000, major: 1, minor: 3 },
      { type: 'fifo', path: 'run/pipe', mode: 0o600, uid: 5, gid: 6, mtime: 1_700_000_000 },
    ]);
    const top = await layerOf(store, [
      dir('etc'),
      { type: 'whiteout', path: 'etc/shadow' },
      dir('var/lib', { mode: 0o700 }),
      { type: 'opaque', path: 'var/lib' },
      file('var/lib/fresh', 'fresh'),
    ], 'zstd');
    const snapshots = new LayerSnapshots(join(root, 'snapshots'));
    const [baseDir, topDir] = await snapshots.prepare([base, top]);

    const ping = await lstat(join(baseDir!, 'usr/bin/ping'));
    assert.equal(ping.mode & 0o7777, 0o4755, 'setuid survives the chown');
    const xattrs = await readXattrTree(baseDir!);
    assert.deepEqual(xattrs.get('usr/bin/ping'), { 'security.capability': CAPABILITY, 'user.origin': Buffer.from('base') });
    const { stdout: caps } = await run('getcap', [join(baseDir!, 'usr/bin/ping')]);
    assert.match(caps, /cap_setuid,cap_net_raw=ep/);
    const bin = await lstat(join(baseDir!, 'usr/bin'));
    assert.deepEqual([bin.mode & 0o7777, bin.uid, bin.gid, bin.mtimeMs / 1000], [0o750, 1000, 1000, 1_600_000_000]);
    const usr = await lstat(join(baseDir!, 'usr'));
    assert.deepEqual([usr.mode & 0o7777, usr.mtimeMs], [0o755, 0], 'a parent the tar leaves out gets 0755 and mtime 0, not the clock');
    assert.equal((await lstat(join(baseDir!, 'etc/shadow'))).gid, 42);
    assert.equal((await lstat(join(baseDir!, 'usr/bin/tool'))).ino, (await lstat(join(baseDir!, 'usr/bin/tool-alias'))).ino);
    assert.equal(await readlink(join(baseDir!, 'usr/bin/sh')), 'busybox');
    assert.equal((await lstat(join(baseDir!, 'usr/bin/sh'))).mtimeMs, 1_700_000_000_000);
    const devNull = await lstat(join(baseDir!, 'dev/null'));
    assert.ok(devNull.isCharacterDevice());
    assert.equal(devNull.rdev, (1 << 8) | 3);
    const pipe = await lstat(join(baseDir!, 'run/pipe'));
    assert.deepEqual([pipe.isFIFO(), pipe.mode & 0o7777, pipe.uid, pipe.gid], [true, 0o600, 5, 6]);

    const whiteout = await lstat(join(topDir!, 'etc/shadow'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'a whiteout is a 0:0 character device');
    assert.deepEqual(await readdir(join(topDir!, 'etc')), ['shadow'], 'no .wh. names in lower-dir form');
    assert.deepEqual((await readXattrTree(topDir!)).get('var/lib'), { 'trusted.overlay.opaque': Buffer.from('y') });
    assert.deepEqual(await readdir(join(topDir!, 'var/lib')), ['fresh']);
    assert.equal((await lstat(join(topDir!, 'var/lib'))).mode & 0o7777, 0o700);
    assert.equal((await lstat(join(topDir!, 'etc'))).mtimeMs, 1_700_000_000_000, 'directory times are set after their contents');
  });

  test('snapshots are keyed by chain ID and reached by short names; a second prepare unpacks nothing', async (t) => {
    const root = await tempDir(t, 'wharf-snapshots-');
    const store = new ContentStore(join(root, 'content'));
    const a = counted(await layerOf(store, [file('a', 'a')]));
    const b = counted(await layerOf(store, [file('b', 'b')]));
    const ids = chainIds([a, b]);
    assert.equal(ids[0], a.diffId, 'the first ChainID is the DiffID');
    assert.equal(ids[1], sha256(Buffer.from(`${a.diffId} ${b.diffId}`)), 'then sha256 of "<parent ChainID> <DiffID>"');
    const snapshots = new LayerSnapshots(join(root, 'snapshots'));
    const dirs = await snapshots.prepare([a, b]);
    for (const [i, lower] of dirs.entries()) {
      assert.match(lower, /\/l\/[A-Za-z0-9_-]{16}$/);
      assert.equal(await readlink(lower), `../${ids[i]!.slice('sha256:'.length)}`);
    }
    assert.deepEqual(await snapshots.prepare([a, b]), dirs);
    assert.deepEqual([a.opened, b.opened], [1, 1]);
    // The same layer over another parent is another chain, another snapshot.
    const [, bOnB] = await snapshots.prepare([b, b]);
    assert.notEqual(bOnB, dirs[1]);
    assert.equal(await readFile(join(bOnB!, 'b'), 'utf8'), 'b');
  });

  test('concurrent prepares of one chain share one unpacking, across instances, and leave no temporaries', async (t) => {
    const root = await tempDir(t, 'wharf-snapshots-');
    const store = new ContentStore(join(root, 'content'));
    const many = Array.from({ length: 400 }, (_, i) => file(`files/f${i}`, `content ${i}`));
    const layers = [counted(await layerOf(store, [dir('files'), ...many])), counted(await layerOf(store, [file('top', 'top')]))];
    const snapshotsRoot = join(root, 'snapshots');
    const results = await Promise.all([
      new LayerSnapshots(snapshotsRoot).prepare(layers),
      new LayerSnapshots(snapshotsRoot).prepare(layers),
      new LayerSnapshots(snapshotsRoot).prepare(layers.slice(0, 1)),
    ]);
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0].slice(0, 1));
    assert.deepEqual(layers.map((layer) => layer.opened), [1, 1]);
    assert.equal((await readdir(join(results[0][0]!, 'files'))).length, 400);
    assert.deepEqual((await readdir(snapshotsRoot)).filter((name) => name.includes('partial')), []);
  });

  test('entries that climb out of the root are refused; symlinks in the layer stay inside it', async (t) => {
    const root = await tempDir(t, 'wharf-snapshots-');
    const store = new ContentStore(join(root, 'content'));
    const snapshots = new LayerSnapshots(join(root, 'snapshots'));
    const climbing = await rawLayer(store, [{ header: { name: '../escaped', type: 'file' }, body: 'x' }]);
    await assert.rejects(snapshots.prepare([climbing]), UnsafeLayerEntryError);
    assert.deepEqual((await readdir(join(root, 'snapshots'))).filter((name) => name.includes('partial')), [], 'the half-unpacked snapshot is removed');

    const outside = join(root, 'outside');
    const through = await rawLayer(store, [
      { header: { name: 'link', type: 'symlink', linkname: outside } },
      { header: { name: 'link/planted', type: 'file' }, body: 'x' },
      { header: { name: 'up', type: 'symlink', linkname: '../../../..' } },
      { header: { name: 'up/planted-too', type: 'file' }, body: 'y' },
    ]);
    const [lower] = await snapshots.prepare([through]);
    assert.equal(await readFile(join(lower!, outside, 'planted'), 'utf8'), 'x', 'an absolute link target restarts at the layer root');
    assert.equal(await readFile(join(lower!, 'planted-too'), 'utf8'), 'y', '".." stops at the layer root');
    await assert.rejects(lstat(outside), { code: 'ENOENT' });
  });
});
