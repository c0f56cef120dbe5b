import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { TarFormatError } from '../../shared/layer/tar-format.js';
import { LayerEntryError, layerTar } from '../../shared/layer/tar-writer.js';
import { collect, readTar, sha256 } from '../support/tar-reading.js';

const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };
const dir = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ type: 'directory', path, ...meta, mode: 0o755, ...extra }) as LayerEntry;
const file = (path: string, content: string | Buffer, extra: Partial<LayerEntry> = {}): LayerEntry => {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { type: 'file', path, ...meta, size: bytes.length, source: { content: bytes }, ...extra } as LayerEntry;
};

async function tarOf(entries: LayerEntry[], sourceDateEpoch?: number): Promise<Buffer> {
  return collect(layerTar(entries, sourceDateEpoch === undefined ? {} : { sourceDateEpoch }));
}

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-tar-writer-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('layer tar writer', () => {
  test('entries are sorted by path, component by component, parents before children', async () => {
    const entries = [
      file('b', 'b'),
      file('a-b', 'x'),
      dir('a/b'),
      file('a/b/c', 'c'),
      dir('a'),
      file('a.txt', 't'),
      file('a/Z', 'upper sorts before lower'),
      file('a/b-c', 'd'),
      dir('usr'),
    ];
    const names = (await readTar(await tarOf(entries))).map((e) => e.header.name);
    assert.deepEqual(names, ['a/', 'a/Z', 'a/b/', 'a/b/c', 'a/b-c', 'a-b', 'a.txt', 'b', 'usr/']);
  });

  test('directories end with "/", metadata is kept and owner names are empty', async () => {
    const [d, f] = await readTar(await tarOf([dir('etc', { mode: 0o1777, uid: 12, gid: 34 }), file('etc/shadow', 'secret', { mode: 0, uid: 0, gid: 42, mtime: 1234 })]));
    assert.equal(d!.header.name, 'etc/');
    assert.equal(d!.header.type, 'directory');
    assert.equal(d!.header.mode, 0o1777);
    assert.equal(d!.header.uid, 12);
    assert.equal(d!.header.gid, 34);
    assert.equal(f!.header.type, 'file');
    assert.equal(f!.header.mode, 0, 'mode 0 stays 0');
    assert.equal(f!.header.gid, 42);
    assert.equal(f!.header.mtime?.getTime(), 1234_000);
    assert.equal(f!.body.toString(), 'secret');
    for (const e of [d!, f!]) {
      assert.equal(e.header.uname, '');
      assert.equal(e.header.gname, '');
    }
  });

  test('names longer than 100 and 255 bytes and long link targets go in PAX records', async () => {
    const long150 = `${'d'.repeat(60)}/${'n'.repeat(89)}`;
    const long300 = `${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(58)}`;
    const target = `/${'t'.repeat(180)}`;
    assert.equal(Buffer.byteLength(long150), 150);
    assert.equal(Buffer.byteLength(long300), 300);
    const bytes = await tarOf([
      file(long150, 'one hundred fifty'),
      file(long300, 'three hundred'),
      { type: 'symlink', path: 'link', ...meta, mode: 0o777, target },
      file('café/naïve', 'utf-8'),
    ]);
    const entries = await readTar(bytes);
    const byName = new Map(entries.map((e) => [e.header.name, e]));
    assert.equal(byName.get(long150)?.body.toString(), 'one hundred fifty');
    assert.equal(byName.get(long150)?.pax.path, long150);
    assert.equal(byName.get(long300)?.body.toString(), 'three hundred');
    assert.equal(byName.get(long300)?.pax.path, long300);
    assert.equal(byName.get('link')?.header.linkname, target);
    assert.equal(byName.get('link')?.pax.linkpath, target);
    assert.equal(byName.get('café/naïve')?.body.toString(), 'utf-8');
    // The ustar name field holds the first 100 bytes, as Go's archive/tar writes it.
    assert.ok(bytes.includes(Buffer.from(long300.slice(0, 100))));
  });

  test('symlinks and hardlinks; a hardlink group is written as a file at its first name', async () => {
    const entries: LayerEntry[] = [
      file('z/original', 'shared bytes', { mode: 0o755 }),
      { type: 'hardlink', path: 'a/first-link', ...meta, target: 'z/original' },
      { type: 'hardlink', path: 'm/second-link', ...meta, target: 'a/first-link' },
      { type: 'symlink', path: 'bin/sh', ...meta, mode: 0o777, target: 'busybox' },
    ];
    const read = await readTar(await tarOf(entries));
    const byName = new Map(read.map((e) => [e.header.name, e]));
    assert.deepEqual(read.map((e) => e.header.name), ['a/first-link', 'bin/sh', 'm/second-link', 'z/original']);
    assert.equal(byName.get('a/first-link')?.header.type, 'file');
    assert.equal(byName.get('a/first-link')?.body.toString(), 'shared bytes');
    assert.equal(byName.get('a/first-link')?.header.mode, 0o755);
    for (const name of ['m/second-link', 'z/original']) {
      assert.equal(byName.get(name)?.header.type, 'link');
      assert.equal(byName.get(name)?.header.linkname, 'a/first-link');
      assert.equal(byName.get(name)?.header.size, 0);
    }
    assert.equal(byName.get('bin/sh')?.header.type, 'symlink');
    assert.equal(byName.get('bin/sh')?.header.linkname, 'busybox');
  });

  test('whiteouts are .wh.NAME and opaque directories DIR/.wh..wh..opq, empty files with mode 0', async () => {
    const read = await readTar(await tarOf([
      dir('etc'),
      { type: 'whiteout', path: 'etc/removed.conf' },
      { type: 'whiteout', path: 'gone' },
      { type: 'opaque', path: 'etc' },
      file('etc/new.conf', 'new'),
    ]));
    assert.deepEqual(read.map((e) => e.header.name), ['.wh.gone', 'etc/', 'etc/.wh..wh..opq', 'etc/.wh.removed.conf', 'etc/new.conf']);
    for (const e of read.filter((e) => e.header.name.includes('.wh.'))) {
      assert.equal(e.header.type, 'file');
      assert.equal(e.header.size, 0);
      assert.equal(e.header.mode, 0);
      assert.equal(e.header.uid, 0);
    }
  });

  test('device nodes and fifos carry their type and device numbers', async () => {
    const read = await readTar(await tarOf([
      { type: 'char-device', path: 'dev/null', ...meta, mode: 0o666, major: 1, minor: 3 },
      { type: 'block-device', path: 'dev/loop0', ...meta, mode: 0o660, major: 7, minor: 0 },
      { type: 'fifo', path: 'run/pipe', ...meta, mode: 0o600 },
    ]));
    const byName = new Map(read.map((e) => [e.header.name, e.header]));
    const fields = (name: string) => {
      const header = byName.get(name)!;
      return [header.type, header.mode, header.devmajor, header.devminor, header.size];
    };
    assert.deepEqual(fields('dev/null'), ['character-device', 0o666, 1, 3, 0]);
    assert.deepEqual(fields('dev/loop0'), ['block-device', 0o660, 7, 0, 0]);
    assert.deepEqual(fields('run/pipe'), ['fifo', 0o600, 0, 0, 0]);
    assert.throws(() => layerTar([{ type: 'char-device', path: 'dev/x', ...meta, major: 1 << 22, minor: 0 }]), /devmajor/);
  });

  test('xattrs become PAX SCHILY.xattr records with their raw bytes', async () => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, binary
    const bytes = await tarOf([file('bin/ping', 'ping', { xattrs: { 'security.capability': capability, 'user.comment': Buffer.from('héllo') } })]);
    const [entry] = await readTar(bytes);
    assert.equal(entry!.pax['SCHILY.xattr.user.comment'], 'héllo');
    const record = Buffer.concat([Buffer.from(`${3 + 'SCHILY.xattr.security.capability'.length + capability.length + 2} SCHILY.xattr.security.capability=`), capability, Buffer.from('\n')]);
    assert.ok(bytes.includes(record), 'binary xattr value is written byte for byte with the right record length');
  });

  test('mtimes are clamped to sourceDateEpoch; older ones are kept', async () => {
    const read = await readTar(await tarOf([file('new', 'n', { mtime: 2_000_000_000 }), file('old', 'o', { mtime: 1000 }), dir('d', { mtime: 1_900_000_000 })], 1_600_000_000));
    const mtimes = Object.fromEntries(read.map((e) => [e.header.name, e.header.mtime!.getTime() / 1000]));
    assert.deepEqual(mtimes, { 'd/': 1_600_000_000, new: 1_600_000_000, old: 1000 });
  });

  test('large uids go in PAX records', async () => {
    const [entry] = await readTar(await tarOf([file('f', 'x', { uid: 100_000_000, gid: 5 })]));
    assert.equal(entry!.pax.uid, '100000000');
  });

  test('deterministic: the same entries in any order, from a file or from memory, give the same bytes', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(scratch, 'big.bin');
    await writeFile(path, content);
    const fromMemory = [dir('data'), file('data/big.bin', content), file('data/small', 'small'), { type: 'symlink', path: 'data/l', ...meta, target: 'small' } as LayerEntry];
    const fromFile = [...fromMemory].reverse().map((e) =>
      e.path === 'data/big.bin' ? ({ ...e, source: { file: path } } as LayerEntry) : e,
    );
    const a = await tarOf(fromMemory);
    const b = await tarOf(fromFile);
    assert.equal(sha256(a), sha256(b));
    assert.equal(sha256(a), sha256(await tarOf(fromMemory)));
    const read = await readTar(b);
    assert.ok(read.find((e) => e.header.name === 'data/big.bin')!.body.equals(content));
    assert.equal(a.length % 512, 0);
    assert.ok(a.subarray(a.length - 1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
  });

  test('hundreds of files read from disk, small (read whole) and large (streamed), keep their bytes and order', async () => {
    const entries: LayerEntry[] = [dir('many')];
    const contents = new Map<string, Buffer>();
    for (let i = 0; i < 400; i++) {
      const size = i % 50 === 0 ? 600_000 + i : (i * 7919) % 20_000;
      const content = randomBytes(size);
      const path = join(scratch, `many-${i}`);
      await writeFile(path, content);
      const name = `many/f${String(i).padStart(3, '0')}`;
      contents.set(name, content);
      entries.push({ type: 'file', path: name, ...meta, size, source: { file: path } });
    }
    const read = await readTar(await tarOf(entries));
    assert.deepEqual(read.map((e) => e.header.name), ['many/', ...[...contents.keys()].sort()]);
    for (const e of read.slice(1)) assert.ok(e.body.equals(contents.get(e.header.name)!), e.header.name);
  });

  test('a file that changed size since it was listed fails the stream (small and large files)', async () => {
    for (const [listed, actual] of [[5000, 4000], [5000, 6000], [2_000_000, 1_500_000], [2_000_000, 2_100_000]] as const) {
      const path = join(scratch, `changed-${listed}-${actual}.bin`);
      await writeFile(path, Buffer.alloc(listed, 1));
      const entries = [{ type: 'file', path: 'changed', ...meta, size: listed, source: { file: path } } as LayerEntry];
      await (actual < listed ? truncate(path, actual) : writeFile(path, Buffer.alloc(actual, 2)));
      await assert.rejects(
        collect(layerTar(entries)),
        (err: Error) => err instanceof TarFormatError && /did the file change/.test(err.message),
        `${listed} listed, ${actual} on disk`,
      );
    }
  });

  test('invalid entries are refused before any byte is written', () => {
    const refused = (entries: LayerEntry[], pattern: RegExp): void =>
      assert.throws(() => layerTar(entries), (err: Error) => (err instanceof LayerEntryError || err instanceof TarFormatError) && pattern.test(err.message));
    refused([file('/abs', 'x')], /starts with "\/"/);
    refused([file('a/../b', 'x')], /"\.\."/);
    refused([file('a/', 'x')], /ends with/);
    refused([file('a/.wh.b', 'x')], /whiteouts/);
    refused([file('a', 'x'), dir('a')], /two entries/);
    refused([file('a', 'x'), { type: 'whiteout', path: 'a' }], /both deletes and writes/);
    refused([{ type: 'hardlink', path: 'l', ...meta, target: 'missing' }], /not a regular file/);
    refused([{ type: 'file', path: 'f', ...meta, size: 3, source: { content: Buffer.from('four') } }], /4 bytes, size says 3/);
    refused([file('f', 'x', { mode: 0o100644 })], /bits beyond 07777/);
    refused([file('f', 'x', { uid: -1 })], /uid/);
  });

  test('GNU tar reads the layer', async (t) => {
    const run = promisify(execFile);
    try {
      await run('tar', ['--version']);
    } catch {
      t.skip('tar not installed');
      return;
    }
    const long = `${'p'.repeat(120)}/${'q'.repeat(150)}`;
    const path = join(scratch, 'layer.tar');
    await writeFile(path, await tarOf([dir('a'), file(long, 'x'), file('a/f', 'y'), { type: 'hardlink', path: 'a/g', ...meta, target: 'a/f' }]));
    const { stdout } = await run('tar', ['-tf', path]);
    assert.deepEqual(stdout.trim().split('\n'), ['a/', 'a/f', 'a/g', long]);
  });
});
