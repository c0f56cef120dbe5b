import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SourceTree } from '../../builder/context/build-context.js';
import { CopyDestinationError, planCopy, rootfsLookup, type CopyPlanOptions } from '../../builder/context/copy-plan.js';
import { layerTarRecords } from '../../shared/layer/tar-writer.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { describe as entryLines, makeTree, memoryLookup, removeDir, tempDir } from './fixtures.js';

const T2001 = 981_173_106;
const EPOCH = 1_700_000_000;

// The destination image: a few directories, a symlink to a directory, a file.
const image = memoryLookup({
  bin: { type: 'directory' },
  exist: { type: 'directory', mode: 0o1777 },
  real: { type: 'directory' },
  link: { type: 'symlink', target: 'real' },
  abslink: { type: 'symlink', target: '/real' },
  efile: { type: 'file', mode: 0o644 },
  w: { type: 'directory' },
  m: { type: 'directory', mode: 0o705, uid: 5, gid: 5 },
  'm/sub': { type: 'directory', mode: 0o711, uid: 5, gid: 5 },
});

describe('COPY destination rules', () => {
  let root: string;
  let tree: SourceTree;
  before(async () => {
    root = await tempDir('plan');
    await makeTree(root, {
      'a.txt': { file: 'A', mtime: T2001 },
      'b.txt': 'BB',
      'c.md': 'C',
      'dir/x': { file: 'x', mode: 0o640, mtime: T2001 },
      'dir/sub/y': { file: 'y', mode: 0o4755 },
      'dir/sub': { dir: true, mode: 0o700, mtime: T2001 },
      'dir/lx': { symlink: 'x' },
      'dir/hx': { hardlink: 'dir/x' },
      dir: { dir: true, mode: 0o750 },
      'tree/link/f': 't',
      'clash/exist': 'a file where the image has a directory',
      'mdir/sub/q': 'q',
      'mdir/sub': { dir: true, mode: 0o700 },
    });
    tree = SourceTree.context(root);
  });
  after(() => removeDir(root));

  async function plan(patterns: string[], destination: string, options: Partial<CopyPlanOptions> = {}): Promise<LayerEntry[]> {
    const sources = await tree.resolveSources(patterns);
    return planCopy({ sources, destination, workdir: '/', existing: image, sourceDateEpoch: EPOCH, ...options });
  }

  const table: { name: string; patterns: string[]; destination: string; workdir?: string; expected: string[] }[] = [
    { name: 'a trailing / makes a directory', patterns: ['a.txt'], destination: '/d1/', expected: ['d1 directory 0755 0:0', 'd1/a.txt file 0644 0:0'] },
    { name: 'no trailing / names the file', patterns: ['a.txt'], destination: '/d2', expected: ['d2 file 0644 0:0'] },
    {
      name: 'several sources make a directory even without /',
      patterns: ['a.txt', 'b.txt'],
      destination: '/d3',
      expected: ['d3 directory 0755 0:0', 'd3/a.txt file 0644 0:0', 'd3/b.txt file 0644 0:0'],
    },
    { name: 'a wildcard with one match names the file (COPY target/*.jar /app.jar)', patterns: ['*.md'], destination: '/d4', expected: ['d4 file 0644 0:0'] },
    {
      name: 'a wildcard with several matches makes a directory',
      patterns: ['*.txt'],
      destination: '/d4b',
      expected: ['d4b directory 0755 0:0', 'd4b/a.txt file 0644 0:0', 'd4b/b.txt file 0644 0:0'],
    },
    {
      name: 'a directory copies its contents into a new 0755 directory; modes, symlinks and hardlinks kept',
      patterns: ['dir'],
      destination: '/d5',
      expected: [
        'd5 directory 0755 0:0',
        'd5/hx file 0640 0:0',
        'd5/lx symlink 0777 0:0 -> x',
        'd5/sub directory 0700 0:0',
        'd5/sub/y file 4755 0:0',
        'd5/x hardlink 0640 0:0 -> d5/hx',
      ],
    },
    { name: 'a relative destination is under WORKDIR', patterns: ['a.txt'], destination: 'd7', workdir: '/w', expected: ['w directory 0755 0:0', 'w/d7 file 0644 0:0'] },
    { name: '. is WORKDIR itself', patterns: ['a.txt'], destination: '.', workdir: '/w', expected: ['w directory 0755 0:0', 'w/a.txt file 0644 0:0'] },
    { name: '.. climbs from WORKDIR and stops at /', patterns: ['a.txt'], destination: '../../x', workdir: '/w', expected: ['x file 0644 0:0'] },
    { name: 'an existing directory receives the file under its own name', patterns: ['a.txt'], destination: '/bin', expected: ['bin directory 0755 0:0', 'bin/a.txt file 0644 0:0'] },
    {
      name: 'existing parents keep their metadata; new ones are 0755',
      patterns: ['a.txt'],
      destination: '/exist/sub/',
      expected: ['exist directory 1777 0:0', 'exist/sub directory 0755 0:0', 'exist/sub/a.txt file 0644 0:0'],
    },
    { name: 'a destination through a symlink lands where it points', patterns: ['a.txt'], destination: '/link/viaslink', expected: ['real directory 0755 0:0', 'real/viaslink file 0644 0:0'] },
    { name: 'an absolute symlink resolves from the image root', patterns: ['a.txt'], destination: '/abslink/', expected: ['real directory 0755 0:0', 'real/a.txt file 0644 0:0'] },
    { name: 'a file over an existing file replaces it', patterns: ['a.txt'], destination: '/efile', expected: ['efile file 0644 0:0'] },
    {
      name: 'the contents of a directory go straight into /',
      patterns: ['mdir'],
      destination: '/',
      expected: ['sub directory 0700 0:0', 'sub/q file 0644 0:0'],
    },
    {
      name: 'an existing destination directory keeps its metadata, an existing child takes the source\'s',
      patterns: ['mdir'],
      destination: '/m/',
      expected: ['m directory 0705 5:5', 'm/sub directory 0700 0:0', 'm/sub/q file 0644 0:0'],
    },
  ];
  for (const row of table) {
    test(`${row.name}: COPY ${row.patterns.join(' ')} ${row.destination}`, async () => {
      assert.deepEqual(entryLines(await plan(row.patterns, row.destination, row.workdir ? { workdir: row.workdir } : {})), row.expected);
    });
  }

  const refusals: { patterns: string[]; destination: string; message: string }[] = [
    { patterns: ['a.txt'], destination: '/efile/', message: 'COPY failed: mkdir /efile: not a directory' },
    { patterns: ['dir'], destination: '/efile', message: 'COPY failed: cannot copy to non-directory: /efile' },
    { patterns: ['tree'], destination: '/', message: 'COPY failed: cannot copy to non-directory: /link' },
    { patterns: ['clash'], destination: '/', message: 'COPY failed: cannot replace to directory /exist with file' },
  ];
  for (const row of refusals) {
    test(`refused: COPY ${row.patterns.join(' ')} ${row.destination}`, async () => {
      await assert.rejects(plan(row.patterns, row.destination), (error: CopyDestinationError) => {
        assert.ok(error instanceof CopyDestinationError);
        assert.equal(error.message, row.message);
        return true;
      });
    });
  }

  test('--chown owns the copy and the directories it creates, not existing ones', async () => {
    const chown = { uid: 1000, gid: 1001 };
    assert.deepEqual(entryLines(await plan(['a.txt'], '/exist/p2/p3/', { chown })), [
      'exist directory 1777 0:0',
      'exist/p2 directory 0755 1000:1001',
      'exist/p2/p3 directory 0755 1000:1001',
      'exist/p2/p3/a.txt file 0644 1000:1001',
    ]);
    const entries = entryLines(await plan(['dir'], '/p4/p5', { chown }));
    assert.ok(entries.every((line) => line.includes(' 1000:1001')), entries.join('\n'));
    assert.ok(entries.includes('p4 directory 0755 1000:1001'));
  });

  test('--chmod sets files and directories of the copy, not symlinks or created directories', async () => {
    assert.deepEqual(entryLines(await plan(['dir'], '/c/', { chmod: 0o700 })), [
      'c directory 0755 0:0',
      'c/hx file 0700 0:0',
      'c/lx symlink 0777 0:0 -> x',
      'c/sub directory 0700 0:0',
      'c/sub/y file 0700 0:0',
      'c/x hardlink 0700 0:0 -> c/hx',
    ]);
    // The mode is --chmod's whole value: its setuid bit is kept, the source's is not.
    assert.deepEqual(entryLines(await plan(['a.txt'], '/s', { chmod: 0o4755 })), ['s file 4755 0:0']);
  });

  test('files keep their mtimes; created directories get SOURCE_DATE_EPOCH, else now', async () => {
    const entries = await plan(['dir'], '/t/');
    const mtime = (path: string): number => entries.find((e) => e.path === path && 'mtime' in e)!['mtime' as keyof LayerEntry] as unknown as number;
    assert.equal(mtime('t/x'), T2001);
    assert.equal(mtime('t/sub'), T2001);
    assert.equal(mtime('t'), EPOCH);
    const before = Math.floor(Date.now() / 1000);
    const fresh = planCopy({ sources: await tree.resolveSources(['a.txt']), destination: '/n/', workdir: '/' });
    const created = fresh.find((e) => e.path === 'n')! as { mtime: number };
    assert.ok(created.mtime >= before && created.mtime <= before + 5);
    assert.equal(planCopy({ sources: await tree.resolveSources(['a.txt']), destination: '/n/', workdir: '/', now: 42 }).find((e) => e.path === 'n')!['mtime' as never], 42);
  });

  test('hardlinks are kept within one source, not between sources (as BuildKit copies each source separately)', async () => {
    assert.deepEqual(entryLines(await plan(['dir/x', 'dir/hx'], '/h/')), ['h directory 0755 0:0', 'h/hx file 0640 0:0', 'h/x file 0640 0:0']);
  });

  test('a later source replaces what an earlier one put at the same path', async () => {
    const entries = await plan(['a.txt', 'dir/x', 'a.txt'], '/r/');
    assert.deepEqual(entryLines(entries), ['r directory 0755 0:0', 'r/a.txt file 0644 0:0', 'r/x file 0640 0:0']);
  });

  test('a wildcard that matched nothing plans nothing', async () => {
    assert.deepEqual(await plan(['*.none'], '/g/'), []);
  });

  test('the planned entries make a valid layer', async () => {
    const entries = await plan(['dir', 'a.txt', 'mdir'], '/l/', { chown: { uid: 1, gid: 2 } });
    const records = layerTarRecords(entries);
    assert.deepEqual(
      records.map((r) => `${r.name} ${r.type}`),
      ['l/ directory', 'l/a.txt file', 'l/hx file', 'l/lx symlink', 'l/sub/ directory', 'l/sub/q file', 'l/sub/y file', 'l/x hardlink'],
    );
  });

  test('without a lookup the image counts as empty', async () => {
    const entries = planCopy({ sources: await tree.resolveSources(['a.txt']), destination: '/exist/', workdir: '/', sourceDateEpoch: EPOCH });
    assert.deepEqual(entryLines(entries), ['exist directory 0755 0:0', 'exist/a.txt file 0644 0:0']);
  });
});

describe('rootfsLookup', () => {
  test('reports what an unpacked image has, never looking through a symlink on the host', async () => {
    const dir = await tempDir('lookup');
    try {
      await makeTree(dir, {
        'tmp/x': 'x',
        tmp: { dir: true, mode: 0o1777 },
        'bin/sh': { file: '', mode: 0o755, uid: 3, gid: 4 },
        'usr/lib/f': 'f',
        lib: { symlink: 'usr/lib' },
        host: { symlink: '/etc' },
      });
      const lookup = rootfsLookup(dir);
      assert.equal(lookup('')!.type, 'directory');
      assert.deepEqual({ ...lookup('tmp'), mtime: 0 }, { type: 'directory', mode: 0o1777, uid: 0, gid: 0, mtime: 0 });
      assert.deepEqual({ ...lookup('/bin/sh'), mtime: 0 }, { type: 'file', mode: 0o755, uid: 3, gid: 4, mtime: 0 });
      assert.equal(lookup('lib')!.type, 'symlink');
      assert.equal(lookup('lib')!.target, 'usr/lib');
      assert.equal(lookup('lib/f'), undefined);
      assert.equal(lookup('host/passwd'), undefined);
      assert.equal(lookup('nope/x'), undefined);
      // planCopy follows the image's symlinks itself.
      const context = await tempDir('lookup-context');
      try {
        await makeTree(context, { 'n.txt': 'n' });
        const entries = planCopy({ sources: await SourceTree.context(context).resolveSources(['n.txt']), destination: '/lib/', workdir: '/', existing: lookup, sourceDateEpoch: EPOCH });
        assert.deepEqual(entryLines(entries), ['usr directory 0755 0:0', 'usr/lib directory 0755 0:0', 'usr/lib/n.txt file 0644 0:0']);
      } finally {
        await removeDir(context);
      }
    } finally {
      await removeDir(dir);
    }
  });
});
