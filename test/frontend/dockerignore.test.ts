import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DockerIgnore, dockerignoreFor } from '../../builder/frontend/dockerignore.js';

// [.dockerignore lines, path relative to the context, excluded?]
const cases: Array<[string[], string, boolean]> = [
  // plain names and directories
  [['node_modules'], 'node_modules', true],
  [['node_modules'], 'node_modules/left-pad/index.js', true],
  [['node_modules'], 'src/node_modules', false],
  [['docs/'], 'docs/README.md', true],
  [['/build'], 'build/out.o', true],
  [['./build'], 'build', true],
  [['a/../b'], 'b/file', true],
  [['a//b/'], 'a/b/c', true],
  // * and ?
  [['*.log'], 'debug.log', true],
  [['*.log'], 'logs/debug.log', false],
  [['*'], 'anything', true],
  [['*'], 'dir/file', true],
  [['*/*.txt'], 'a/b.txt', true],
  [['*/*.txt'], 'a/b/c.txt', false],
  [['abc?def'], 'abcZdef', true],
  [['abc?def'], 'abcdef', false],
  [['a?b'], 'a/b', false],
  [['a?b'], 'a☺b', true],
  // **
  [['**/*.pyc'], 'x.pyc', true],
  [['**/*.pyc'], 'a/b/c/x.pyc', true],
  [['**/dir'], 'dir', true],
  [['**/dir'], 'a/dir/file', true],
  [['dir/**'], 'dir', false],
  [['dir/**'], 'dir/x/y', true],
  [['**'], 'whatever/deep', true],
  [['a**/*.txt'], 'a/dir/dir/file.txt', true],
  [['**/foo/bar'], 'foo/bar', true],
  [['**/.foo'], 'bar.foo', false],
  // character classes and escapes
  [['a[b-d]e'], 'ace', true],
  [['a[b-d]e'], 'aae', false],
  [['a[^b-d]e'], 'aze', true],
  [['[\\]a]'], ']', true],
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'axb', false],
  // regexp characters are literal
  [['.*'], '.env', true],
  [['.*'], 'env', false],
  [['abc.def'], 'abcZdef', false],
  [['a(b)c/def'], 'a(b)c/def', true],
  [['a.|)$(}+{bc'], 'a.|)$(}+{bc', true],
  [['dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
  // ! exceptions: the last matching line wins
  [['*.md', '!README.md'], 'README.md', false],
  [['*.md', '!README.md'], 'CHANGES.md', true],
  [['!README.md', '*.md'], 'README.md', true],
  [['docs', '!docs/README.md'], 'docs/README.md', false],
  [['docs', '!docs/README.md'], 'docs/other.md', true],
  [['docs/*', '!docs/README.md'], 'docs/README.md', false],
  [['**', '!util/docker/web'], 'util/docker/web/foo', false],
  [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
  [['**', '!dist/*.whl'], 'dist/x.whl', false],
  [['*', '!src', 'src/*.tmp'], 'src/a.tmp', true],
  [['*', '!src', 'src/*.tmp'], 'src/a.ts', false],
  // comments and blanks
  [['# node_modules'], '# node_modules', false],
  [['  spaced  '], 'spaced', true],
  [[' # not a comment'], '# not a comment', true],
  // the context root is never excluded
  [['*'], '.', false],
  [['**'], '', false],
];

describe('DockerIgnore.isExcluded', () => {
  for (const [lines, file, excluded] of cases) {
    test(`${JSON.stringify(lines)} ${excluded ? 'excludes' : 'keeps'} ${JSON.stringify(file)}`, () => {
      assert.equal(DockerIgnore.parse(lines.join('\n') + '\n').isExcluded(file), excluded);
    });
  }

  test('paths may be given with a leading ./ or /', () => {
    const ignore = DockerIgnore.parse('secret.txt\n');
    assert.ok(ignore.isExcluded('./secret.txt'));
    assert.ok(ignore.isExcluded('/secret.txt'));
  });

  test('an empty file excludes nothing', () => {
    assert.equal(DockerIgnore.parse('').isExcluded('x'), false);
    assert.equal(DockerIgnore.empty.isExcluded('x'), false);
  });
});

describe('DockerIgnore.parse reads patterns as Docker does', () => {
  test('cleans paths, drops leading slashes and comments, keeps !', () => {
    const ignore = DockerIgnore.parse('\uFEFFtest1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\r\n./x/../y/\n');
    assert.deepEqual(ignore.patterns, ['test1', 'test2', 'a/file/here', 'lastfile', '!inverted/abs/path', 'y']);
  });

  test('a lone ! is an error', () => {
    assert.throws(() => DockerIgnore.parse('a\n!\n'), /illegal exclusion pattern: "!"/);
  });

  test('malformed patterns are errors', () => {
    for (const bad of ['[', 'a[', '[^bc', '[]a]', '[-x]', '[x-]', '[a-b-c]', 'trailing\\']) {
      assert.throws(() => DockerIgnore.parse(bad + '\n'), /syntax error in pattern/, bad);
    }
  });
});

describe('DockerIgnore.mayIncludeBelow', () => {
  test('false without exceptions', () => {
    assert.equal(DockerIgnore.parse('node_modules\n').mayIncludeBelow('node_modules'), false);
  });

  test('true when an exception names something inside the directory', () => {
    const ignore = DockerIgnore.parse('docs\n!docs/README.md\n');
    assert.equal(ignore.mayIncludeBelow('docs'), true);
    assert.equal(ignore.mayIncludeBelow('other'), false);
  });

  test('true when an exception names the directory or a parent of it', () => {
    const ignore = DockerIgnore.parse('*\n!src/app\n');
    assert.equal(ignore.mayIncludeBelow('src'), true);
    assert.equal(ignore.mayIncludeBelow('src/app'), true);
    assert.equal(ignore.mayIncludeBelow('src/lib'), false);
  });

  test('does not confuse a sibling with a common prefix', () => {
    assert.equal(DockerIgnore.parse('*\n!srcfoo/x\n').mayIncludeBelow('src'), false);
  });

  test('true for any directory once an exception has a wildcard', () => {
    assert.equal(DockerIgnore.parse('*\n!**/*.go\n').mayIncludeBelow('vendor/x'), true);
  });
});

describe('dockerignoreFor', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-dockerignore-'));
    await mkdir(path.join(dir, 'ctx'));
    await mkdir(path.join(dir, 'docker'));
    await writeFile(path.join(dir, 'ctx', '.dockerignore'), 'from-context\n');
    await writeFile(path.join(dir, 'docker', 'app.Dockerfile'), 'FROM scratch\n');
    await writeFile(path.join(dir, 'docker', 'app.Dockerfile.dockerignore'), 'from-dockerfile\n');
    await writeFile(path.join(dir, 'docker', 'other.Dockerfile'), 'FROM scratch\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('prefers <Dockerfile>.dockerignore beside the Dockerfile', async () => {
    const ignore = await dockerignoreFor(path.join(dir, 'ctx'), path.join(dir, 'docker', 'app.Dockerfile'));
    assert.deepEqual(ignore.patterns, ['from-dockerfile']);
    assert.equal(ignore.source, path.join(dir, 'docker', 'app.Dockerfile.dockerignore'));
  });

  test('falls back to <context>/.dockerignore', async () => {
    const ignore = await dockerignoreFor(path.join(dir, 'ctx'), path.join(dir, 'docker', 'other.Dockerfile'));
    assert.deepEqual(ignore.patterns, ['from-context']);
  });

  test('no file, no rules', async () => {
    const ignore = await dockerignoreFor(path.join(dir, 'docker'));
    assert.deepEqual(ignore.patterns, []);
    assert.equal(ignore.source, undefined);
  });

  test('a malformed file names itself in the error', async () => {
    await writeFile(path.join(dir, 'docker', '.dockerignore'), '!\n');
    await assert.rejects(dockerignoreFor(path.join(dir, 'docker')), /\.dockerignore: illegal exclusion pattern/);
  });
});
