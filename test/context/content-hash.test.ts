import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SourceTree } from '../../builder/context/build-context.js';
import { fileSha256Hex, hashCopySources, selectionStamp } from '../../builder/context/content-hash.js';
import { planCopy, type CopyPlanOptions } from '../../builder/context/copy-plan.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { makeTree, removeDir, setLinkTime, tempDir } from './fixtures.js';

describe('COPY content hash', () => {
  let root: string;
  before(async () => {
    root = await tempDir('hash');
    await makeTree(root, {
      'app/main.js': 'console.log(1)\n',
      'app/lib/util.js': { file: 'export {}\n', mode: 0o600 },
      'app/link': { symlink: 'main.js' },
      'app/hard': { hardlink: 'app/main.js' },
    });
  });
  after(() => removeDir(root));

  /** The hash of `COPY app /srv/` as it stands now, with created directories' time left to `now`. */
  async function hashNow(options: Partial<CopyPlanOptions> = {}): Promise<string> {
    const sources = await SourceTree.context(root).resolveSources(['app']);
    return hashCopySources(planCopy({ sources, destination: '/srv/', workdir: '/', ...options }));
  }

  test('is stable across mtime changes and created-directory times', async () => {
    const first = await hashNow({ now: 1 });
    await utimes(join(root, 'app/main.js'), 12345, 12345);
    await utimes(join(root, 'app/lib'), 777, 777);
    await setLinkTime(join(root, 'app/link'), 4242);
    assert.equal(await hashNow({ now: 2 }), first);
  });

  test('changes with content, mode, owner, symlink target and path', async () => {
    const original = await hashNow();
    await writeFile(join(root, 'app/lib/util.js'), 'export {} \n');
    const edited = await hashNow();
    assert.notEqual(edited, original);
    await writeFile(join(root, 'app/lib/util.js'), 'export {}\n');
    assert.equal(await hashNow(), original, 'same bytes again, same hash');

    await chmod(join(root, 'app/lib/util.js'), 0o644);
    assert.notEqual(await hashNow(), original);
    await chmod(join(root, 'app/lib/util.js'), 0o600);
    assert.equal(await hashNow(), original);

    assert.notEqual(await hashNow({ chown: { uid: 1, gid: 1 } }), original);
    assert.notEqual(await hashNow({ chmod: 0o600 }), original);
    const sources = await SourceTree.context(root).resolveSources(['app']);
    assert.notEqual(await hashCopySources(planCopy({ sources, destination: '/other/', workdir: '/' })), original);
  });

  test('does not depend on the order of the entries', async () => {
    const sources = await SourceTree.context(root).resolveSources(['app']);
    const entries = planCopy({ sources, destination: '/srv/', workdir: '/' });
    assert.equal(await hashCopySources([...entries].reverse()), await hashCopySources(entries));
  });

  test('is length-framed: fields that concatenate alike still differ', async () => {
    const link = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, target, mode: 0o777, uid: 0, gid: 0, mtime: 0 });
    assert.notEqual(await hashCopySources([link('ab', 'c')]), await hashCopySources([link('a', 'bc')]));
    const file = (content: string): LayerEntry => ({ type: 'file', path: 'f', mode: 0o644, uid: 1, gid: 23, mtime: 0, size: content.length, source: { content: Buffer.from(content) } });
    const owned = (uid: number, gid: number): LayerEntry => ({ ...(file('x') as Extract<LayerEntry, { type: 'file' }>), uid, gid });
    assert.notEqual(await hashCopySources([owned(1, 23)]), await hashCopySources([owned(12, 3)]));
    assert.notEqual(await hashCopySources([file('x'), link('y', '')]), await hashCopySources([file('x')]));
  });

  test('in-memory and on-disk file contents hash alike', async () => {
    const bytes = Buffer.from('same bytes');
    const path = join(root, 'same');
    await writeFile(path, bytes);
    const entry = (source: { file: string } | { content: Buffer }): LayerEntry => ({ type: 'file', path: 'x', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: bytes.length, source });
    assert.equal(await hashCopySources([entry({ file: path })]), await hashCopySources([entry({ content: bytes })]));
    assert.equal(await fileSha256Hex(path), createHash('sha256').update(bytes).digest('hex'));
  });

  test('hashes many files with bounded concurrency', async () => {
    const dir = await tempDir('hash-many');
    try {
      const entries: LayerEntry[] = [];
      for (let i = 0; i < 200; i++) {
        const path = join(dir, `f${i}`);
        await writeFile(path, `file ${i}\n`);
        entries.push({ type: 'file', path: `d/f${i}`, mode: 0o644, uid: 0, gid: 0, mtime: i, size: `file ${i}\n`.length, source: { file: path } });
      }
      const serial = await hashCopySources(entries, { concurrency: 1 });
      assert.equal(await hashCopySources(entries, { concurrency: 16 }), serial);
      await writeFile(join(dir, 'f199'), 'changed\n');
      assert.notEqual(await hashCopySources(entries, { concurrency: 16 }), serial);
    } finally {
      await removeDir(dir);
    }
  });

  test('a missing file is an error, not a silent hash', async () => {
    await assert.rejects(
      hashCopySources([{ type: 'file', path: 'x', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 1, source: { file: join(root, 'does-not-exist') } }]),
      /ENOENT/,
    );
  });

  describe('selection stamp', () => {
    const stampNow = async (options: Partial<CopyPlanOptions> = {}) => {
      const sources = await SourceTree.context(root).resolveSources(['app']);
      return selectionStamp({ sources, destination: '/srv/', workdir: '/', ...options });
    };

    test('is equal while nothing changes, and differs with the plan options', async () => {
      const first = await stampNow();
      assert.match(first ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(await stampNow(), first);
      assert.notEqual(await stampNow({ destination: '/other/' }), first);
      assert.notEqual(await stampNow({ chown: { uid: 1, gid: 1 } }), first);
      assert.notEqual(await stampNow({ chmod: 0o600 }), first);
    });

    test('changes when a file is rewritten, even with its size and mtime restored', async () => {
      const path = join(root, 'app/main.js');
      const first = await stampNow();
      const { size, mtime } = await stat(path);
      await writeFile(path, 'x'.repeat(size));
      await utimes(path, mtime, mtime);
      assert.notEqual(await stampNow(), first);
    });

    test('is undefined for an archive source, whose bytes no stamp stands for', () => {
      const archive = { pattern: 'a.tar', path: 'a.tar', name: 'a.tar', kind: 'archive' as const, group: 0, entries: [] };
      assert.equal(selectionStamp({ sources: [archive], destination: '/', workdir: '/' }), undefined);
    });
  });
});
