import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CopySourceError, openBuildContext, segmentMatcher, SourceTree, type IgnoreRules, type ResolvedSource } from '../../builder/context/build-context.js';
import { DockerIgnore } from '../../builder/frontend/dockerignore.js';
import { makeTree, removeDir, tempDir } from './fixtures.js';

const T2001 = 981_173_106;

/** `path type mode` of a walk or a resolved source, for compact assertions. */
function lines(entries: readonly { path: string; type: string; mode: number }[]): string[] {
  return entries.map((e) => `${e.path} ${e.type} ${e.mode.toString(8)}`);
}

function summary(sources: readonly ResolvedSource[]): string[] {
  return sources.map((s) => `${s.kind} ${s.path} [${s.entries.map((e) => e.path || '.').join(' ')}]`);
}

describe('build context walk and .dockerignore', () => {
  let root: string;
  before(async () => {
    root = await tempDir('walk');
    await makeTree(root, {
      'a.txt': { file: 'A', mode: 0o640, mtime: T2001 },
      'b.md': 'B',
      'node_modules/pkg/index.js': 'x',
      'dir/keep/y': 'y',
      'dir/drop': 'd',
      'dir-x': 'sorts after dir/ in byte order',
      dir: { dir: true, mode: 0o750 },
      'logs/today.log': 'l',
      'logs/readme': 'r',
    });
  });
  after(() => removeDir(root));

  test('walk lists parents before children, names in byte order, context owners reset to 0:0', async () => {
    execFileSync('chown', ['-R', '1234:5678', root]);
    const entries = await SourceTree.context(root).walk();
    assert.deepEqual(
      entries.map((e) => e.path),
      ['a.txt', 'b.md', 'dir', 'dir/drop', 'dir/keep', 'dir/keep/y', 'dir-x', 'logs', 'logs/readme', 'logs/today.log', 'node_modules', 'node_modules/pkg', 'node_modules/pkg/index.js'],
    );
    assert.ok(entries.every((e) => e.uid === 0 && e.gid === 0));
    const a = entries.find((e) => e.path === 'a.txt')!;
    assert.equal(a.mode, 0o640);
    assert.equal(a.mtime, T2001);
    assert.equal(a.size, 1);
    assert.deepEqual(a.source, { file: join(root, 'a.txt') });
  });

  test('excluded files and directories are left out; an excluded directory is not even entered', async () => {
    const rules = DockerIgnore.parse('*.md\nnode_modules\n**/*.log\n');
    const asked: string[] = [];
    const spy: IgnoreRules = {
      isExcluded: (p) => (asked.push(p), rules.isExcluded(p)),
      mayIncludeBelow: (p) => rules.mayIncludeBelow(p),
    };
    const entries = await SourceTree.context(root, spy).walk();
    assert.deepEqual(
      entries.map((e) => e.path),
      ['a.txt', 'dir', 'dir/drop', 'dir/keep', 'dir/keep/y', 'dir-x', 'logs', 'logs/readme'],
    );
    assert.ok(!asked.some((p) => p.startsWith('node_modules/')), `walked into node_modules: ${asked.join(', ')}`);
  });

  test('a negation re-includes below an excluded directory, which is listed with its own mode', async () => {
    const tree = SourceTree.context(root, DockerIgnore.parse('dir\n!dir/keep/y\n'));
    assert.deepEqual(lines((await tree.walk()).filter((e) => e.path.startsWith('dir'))), [
      'dir directory 750',
      'dir/keep directory 755',
      'dir/keep/y file 644',
      'dir-x file 644',
    ]);
    // The source `dir` is the filtered directory; its excluded file is not found.
    assert.deepEqual(summary(await tree.resolveSources(['dir'])), ['directory dir [. keep keep/y]']);
    await assert.rejects(tree.resolveSources(['dir/drop']), /file not found in build context or excluded by \.dockerignore: stat dir\/drop/);
  });

  test('an excluded directory with nothing re-included below it does not exist', async () => {
    const tree = SourceTree.context(root, DockerIgnore.parse('logs\n!dir/keep\n'));
    await assert.rejects(tree.resolveSources(['logs']), CopySourceError);
    await assert.rejects(tree.resolveSources(['logs/*']), /stat logs: file does not exist/);
  });

  test('walk(from) lists one subtree with root-relative paths', async () => {
    assert.deepEqual(
      (await SourceTree.context(root).walk('dir/keep')).map((e) => e.path),
      ['dir/keep/y'],
    );
  });

  test('openBuildContext reads <Dockerfile>.dockerignore before the context one', async () => {
    const dir = await tempDir('ignorefile');
    try {
      await makeTree(dir, { '.dockerignore': 'a\n', 'build/app.Dockerfile': 'FROM x\n', 'build/app.Dockerfile.dockerignore': 'b\n', a: 'a', b: 'b' });
      const viaDockerfile = await openBuildContext(dir, join(dir, 'build/app.Dockerfile'));
      assert.deepEqual(summary(await viaDockerfile.resolveSources(['a'])), ['file a [.]']);
      await assert.rejects(viaDockerfile.resolveSources(['b']), CopySourceError);
      const plain = await openBuildContext(dir, join(dir, 'Dockerfile'));
      await assert.rejects(plain.resolveSources(['a']), CopySourceError);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('COPY source resolution', () => {
  let root: string;
  let tree: SourceTree;
  before(async () => {
    root = await tempDir('sources');
    await makeTree(root, {
      'a.txt': 'A',
      'b.txt': 'BB',
      'c.md': 'C',
      'x*y': 'literal star',
      'dir/x': { file: 'x', mode: 0o640 },
      'dir/sub/y': { file: 'y', mode: 0o4755 },
      'dir/lx': { symlink: 'x' },
      'dir/escape': { symlink: '../../../../etc' },
      'dir/abs': { symlink: '/etc/passwd' },
      'dir/hx': { hardlink: 'dir/x' },
      'other/sub/y': 'y2',
      'link-to-file': { symlink: 'a.txt' },
      'link-to-dir': { symlink: 'dir' },
      'abs-link': { symlink: '/a.txt' },
      'outside-link': { symlink: '../../../../../etc/hostname' },
      'chain-1': { symlink: 'chain-2' },
      'chain-2': { symlink: '/dir/sub' },
    });
    tree = SourceTree.context(root);
  });
  after(() => removeDir(root));

  test('a file source is one entry; a leading / means the context root', async () => {
    const [source] = await tree.resolveSources(['/a.txt']);
    assert.equal(source!.kind, 'file');
    assert.equal(source!.name, 'a.txt');
    assert.deepEqual(lines(source!.entries), [' file 644']);
  });

  test('a directory source stands for its contents; symlinks inside stay symlinks (even ones pointing outside)', async () => {
    const [source] = await tree.resolveSources(['dir/']);
    assert.equal(source!.kind, 'directory');
    assert.deepEqual(lines(source!.entries), [
      ' directory 755',
      'abs symlink 777',
      'escape symlink 777',
      'hx file 640',
      'lx symlink 777',
      'sub directory 755',
      'sub/y file 4755',
      'x file 640',
    ]);
    const byPath = new Map(source!.entries.map((e) => [e.path, e]));
    assert.equal(byPath.get('escape')!.target, '../../../../etc');
    assert.equal(byPath.get('abs')!.target, '/etc/passwd');
    assert.ok(byPath.get('x')!.inode, 'hardlinked file carries its inode');
    assert.equal(byPath.get('x')!.inode, byPath.get('hx')!.inode);
    assert.equal(byPath.get('sub/y')!.inode, undefined);
  });

  test('. and / name the whole context', async () => {
    for (const pattern of ['.', '/', './']) {
      const [source] = await tree.resolveSources([pattern]);
      assert.equal(source!.kind, 'directory');
      assert.equal(source!.path, '');
      assert.ok(source!.entries.some((e) => e.path === 'dir/sub/y'));
    }
  });

  test('a symlink source is followed inside the context and keeps its own name', async () => {
    const [file] = await tree.resolveSources(['link-to-file']);
    assert.equal(file!.kind, 'file');
    assert.equal(file!.name, 'link-to-file');
    assert.deepEqual(file!.entries[0]!.source, { file: join(root, 'a.txt') });
    const [dir] = await tree.resolveSources(['link-to-dir']);
    assert.equal(dir!.kind, 'directory');
    assert.ok(dir!.entries.some((e) => e.path === 'sub/y'));
    // An absolute target restarts at the context root; chains are followed.
    const [abs] = await tree.resolveSources(['abs-link']);
    assert.deepEqual(abs!.entries[0]!.source, { file: join(root, 'a.txt') });
    const [chain] = await tree.resolveSources(['chain-1']);
    assert.deepEqual(summary([chain!]), ['directory chain-1 [. y]']);
  });

  test('a symlink pointing outside the context resolves inside it (as BuildKit does) and then is not found', async () => {
    await assert.rejects(tree.resolveSources(['outside-link']), (error: CopySourceError) => {
      assert.equal(error.reason, 'not-found');
      assert.match(error.message, /stat outside-link \(a symlink leading to \/etc\/hostname\): file does not exist/);
      return true;
    });
  });

  test('a missing source names itself in a COPY failed message', async () => {
    await assert.rejects(tree.resolveSources(['a.txt', 'missing.txt']), (error: CopySourceError) => {
      assert.equal(error.source, 'missing.txt');
      assert.equal(error.message, 'COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist');
      return true;
    });
    await assert.rejects(tree.resolveSources(['a.txt/x'], { instruction: 'ADD' }), /^CopySourceError: ADD failed: .*stat a\.txt\/x/);
  });

  test('sources escaping the context are refused', async () => {
    for (const pattern of ['../x', 'dir/../../x', '/../a.txt']) {
      await assert.rejects(tree.resolveSources([pattern]), (error: CopySourceError) => {
        assert.equal(error.reason, 'outside-context');
        assert.equal(error.message, `COPY failed: forbidden path outside the build context: ${pattern}`);
        return true;
      });
    }
    assert.deepEqual(summary(await tree.resolveSources(['dir/../a.txt'])), ['file a.txt [.]']);
  });

  test('wildcards match per path segment, in byte order; a matched directory copies its contents', async () => {
    assert.deepEqual(summary(await tree.resolveSources(['*.txt'])), ['file a.txt [.]', 'file b.txt [.]']);
    assert.deepEqual(summary(await tree.resolveSources(['[ab].txt', '?.md'])), ['file a.txt [.]', 'file b.txt [.]', 'file c.md [.]']);
    assert.deepEqual(summary(await tree.resolveSources(['*/sub/y'])), ['file dir/sub/y [.]', 'file other/sub/y [.]']);
    assert.deepEqual(summary(await tree.resolveSources(['d?r'])), ['directory dir [. abs escape hx lx sub sub/y x]']);
    assert.deepEqual(summary(await tree.resolveSources(['dir/[^a-l]*'])), ['directory dir/sub [. y]', 'file dir/x [.]']);
  });

  test('** is no recursive wildcard: it matches within one segment, as in BuildKit', async () => {
    assert.deepEqual(summary(await tree.resolveSources(['**/y'])), []);
    assert.deepEqual(summary(await tree.resolveSources(['**/sub'])), ['directory dir/sub [. y]', 'directory other/sub [. y]']);
  });

  test('wildcard matches that are symlinks are followed, and a dangling one is an error', async () => {
    const sources = await tree.resolveSources(['link-*']);
    assert.deepEqual(summary(sources).map((s) => s.split(' [')[0]), ['directory link-to-dir', 'file link-to-file']);
    await assert.rejects(tree.resolveSources(['dir/ab*']), /stat dir\/abs \(a symlink leading to \/etc\/passwd\): file does not exist/);
  });

  test('a wildcard matching nothing yields nothing; a missing directory before it is an error', async () => {
    assert.deepEqual(await tree.resolveSources(['*.nothing']), []);
    await assert.rejects(tree.resolveSources(['nodir/*.txt']), /stat nodir: file does not exist/);
  });

  test('an escaped wildcard character is literal; without other wildcards the backslash stays, as in BuildKit', async () => {
    await assert.rejects(tree.resolveSources(['x\\*y']), /stat x\\\*y: file does not exist/);
    assert.deepEqual(summary(await tree.resolveSources(['x\\**'])), ['file x*y [.]']);
  });

  test('hardlink identity is per pattern: items of one pattern share a group', async () => {
    const sources = await tree.resolveSources(['dir/x', 'dir/h*']);
    assert.deepEqual(sources.map((s) => s.group), [0, 1]);
  });

  test('a named pipe is refused with a clear message', async () => {
    const dir = await tempDir('fifo');
    try {
      execFileSync('mkfifo', [join(dir, 'pipe')]);
      await assert.rejects(SourceTree.context(dir).resolveSources(['.']), /pipe is a named pipe; only files, directories and symlinks can be copied/);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('another stage\'s root filesystem as a source tree', () => {
  let root: string;
  before(async () => {
    root = await tempDir('rootfs');
    await makeTree(root, {
      's/d/f': { file: 'hi', mode: 0o4711, uid: 123, gid: 456 },
      's/d': { dir: true, uid: 123, gid: 456 },
      's/l': { symlink: 'd/f', uid: 7, gid: 8 },
      'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:2000::/home/app:/bin/sh\n',
      'etc/alt': { symlink: '/etc/passwd' },
      '.dockerignore': 's\n',
    });
  });
  after(() => removeDir(root));

  test('keeps owners, and .dockerignore files in it mean nothing', async () => {
    const tree = SourceTree.rootfs(root, { kind: 'stage', name: 'builder' });
    const [source] = await tree.resolveSources(['/s']);
    assert.deepEqual(
      source!.entries.map((e) => `${e.path} ${e.uid}:${e.gid}`),
      [' 0:0', 'd 123:456', 'd/f 123:456', 'l 7:8'],
    );
  });

  test('.. stops at the root instead of failing, and a missing path names the stage', async () => {
    const tree = SourceTree.rootfs(root, { kind: 'stage', name: 'builder' });
    assert.deepEqual(summary(await tree.resolveSources(['../../s/l'])), ['file s/l [.]']);
    await assert.rejects(tree.resolveSources(['/nope']), /^CopySourceError: COPY failed: file not found in stage "builder": stat \/nope: file does not exist$/);
  });

  test('readFile follows symlinks inside the tree', async () => {
    const tree = SourceTree.rootfs(root, { kind: 'image', name: 'alpine' });
    assert.match((await tree.readFile('/etc/alt'))!.toString(), /^root:/);
    assert.equal(await tree.readFile('/etc/shadow'), undefined);
    assert.equal(await tree.readFile('/etc'), undefined);
  });
});

test('segment matching follows Go filepath.Match', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'abc', true],
    ['*', '', true],
    ['*', '.hidden', true],
    ['a*c', 'abbbc', true],
    ['a*c', 'abd', false],
    ['?', 'é', true],
    ['??', 'é', false],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'bx', false],
    ['[^a-c]x', 'dx', true],
    ['[\\]]', ']', true],
    ['[\\-]', '-', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['[]a]', ']', false], // malformed: a class cannot start with ']'
    ['[a', 'a', false], // malformed: unclosed
    ['a\\', 'a', false], // malformed: trailing backslash
    ['x.y', 'xay', false],
    ['(a|b)', '(a|b)', true],
  ];
  for (const [pattern, name, expected] of cases) assert.equal(segmentMatcher(pattern)(name), expected, `${pattern} vs ${name}`);
});
