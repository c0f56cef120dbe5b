import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LayerSnapshots } from '../../builder/snapshot/layer-snapshots.js';
import { mountOverlay, removeStaleMounts, unmount, unmountAllSync, withOverlay } from '../../builder/snapshot/overlay-mount.js';
import { overlayDiff } from '../../builder/snapshot/overlay-diff.js';
import { ContentStore } from '../../shared/content-store.js';
import { tempDir } from '../support/temp-dir.js';
import { file, layerOf } from './fixtures.js';

/** Mount points of this process's namespace under `dir`. */
async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').map((line) => line.split(' ')[4] ?? '').filter((point) => point.startsWith(`${dir}/`));
}

/** An overlay's directories under `base`. */
function overlayAt(base: string, lowerDirs: readonly string[]) {
  return { lowerDirs, upperDir: join(base, 'upper'), workDir: join(base, 'work'), target: join(base, 'merged') };
}

describe('overlay mounts', () => {
  test('FROM scratch: no lower layers mounts over an empty directory; the upper dir gets the changes', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    const options = overlayAt(join(root, `${process.pid}-run`), []);
    await withOverlay(options, async (merged) => {
      assert.deepEqual(await readdir(merged), []);
      await writeFile(join(merged, 'hello'), 'hi');
    });
    assert.deepEqual(await mountsUnder(root), []);
    assert.deepEqual(await readdir(`${options.target}.empty`), []);
    const entries = await overlayDiff(options.upperDir!);
    assert.deepEqual(entries.map((entry) => [entry.type, entry.path]), [['file', 'hello']]);
  });

  test('120 layers fit the one-page mount options; the top-most layer wins', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    const store = new ContentStore(join(root, 'content'));
    const layers = [];
    for (let i = 0; i < 120; i++) layers.push(await layerOf(store, [file(`layer-${i}`, `${i}`), file('top', `${i}`)], 'none'));
    const lowers = await new LayerSnapshots(join(root, 'snapshots')).prepare(layers);
    await withOverlay(overlayAt(join(root, `${process.pid}-run`), [...lowers].reverse()), async (merged) => {
      assert.equal((await readdir(merged)).length, 121);
      assert.equal(await readFile(join(merged, 'top'), 'utf8'), '119');
      assert.equal(await readFile(join(merged, 'layer-0'), 'utf8'), '0');
    });
  });

  test('more layers than the options page holds fail with a clear error instead of a truncated mount', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    // 300 names of 16 bytes: what LayerSnapshots' short names take, 17 bytes a layer with the ':'.
    const lowers = Array.from({ length: 300 }, (_, i) => join(root, 'l', `layer${String(i).padStart(11, '0')}`));
    await Promise.all(lowers.map((dir) => mkdir(dir, { recursive: true })));
    await assert.rejects(mountOverlay(overlayAt(join(root, 'run'), lowers)), /cannot mount 300 layers: their overlay mount options take \d+ bytes, the kernel reads at most 4095/);
    await withOverlay(overlayAt(join(root, 'run'), lowers.slice(0, 220)), async (merged) => assert.deepEqual(await readdir(merged), []));
  });

  test('an overlay is unmounted when the work inside it fails, and when it is busy', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    const options = overlayAt(join(root, 'run'), []);
    await assert.rejects(
      withOverlay(options, async () => {
        throw new Error('RUN failed');
      }),
      /RUN failed/,
    );
    assert.deepEqual(await mountsUnder(root), []);
    // A process with its working directory inside keeps the mount busy: umount -l detaches it anyway.
    await mountOverlay(options);
    const busy = spawn('sleep', ['30'], { cwd: options.target, stdio: 'ignore' });
    t.after(() => busy.kill());
    await new Promise((resolve) => busy.once('spawn', resolve));
    await unmount(options.target);
    assert.deepEqual(await mountsUnder(root), []);
  });

  test('unmountAllSync, for signal handlers, unmounts every overlay this process still has', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    for (const name of ['a', 'b']) await mountOverlay(overlayAt(join(root, name), []));
    unmountAllSync();
    assert.deepEqual(await mountsUnder(root), []);
  });

  test('stale mounts of dead processes under the build root are removed; live ones are kept', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    const dead = 2 ** 22 + 12345; // above Linux's pid_max default, so never alive
    const stale = overlayAt(join(root, 'tmp', `${dead}-run-1`), []);
    const live = overlayAt(join(root, 'tmp', `${process.pid}-run-1`), []);
    await mountOverlay(stale);
    // A mount inside the stale overlay (as runc makes /proc), to be removed first.
    await mkdir(join(stale.target, 'proc'));
    await mountOverlay({ ...overlayAt(join(root, 'tmp', `${dead}-run-2`), []), target: join(stale.target, 'proc') });
    await mountOverlay(live);
    try {
      assert.deepEqual(await removeStaleMounts(root), [join(stale.target, 'proc'), stale.target]);
      assert.deepEqual(await mountsUnder(root), [live.target]);
    } finally {
      await unmount(live.target);
    }
  });

  test('without root, mounting fails with OverlayUnavailableError saying what is needed', async (t) => {
    const root = await tempDir(t, 'wharf-overlay-');
    await chmod(root, 0o777);
    const script = `
      const { mountOverlay } = await import(${JSON.stringify(new URL('../../builder/snapshot/overlay-mount.js', import.meta.url).href)});
      try { await mountOverlay({ lowerDirs: [], upperDir: 'u', workDir: 'w', target: 'm' }); } catch (error) { console.log(error.name, error.constructor.name, error.message); }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, uid: 65534, gid: 65534 });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => child.once('close', resolve));
    assert.match(output, /^Error OverlayUnavailableError overlayfs is unavailable \(this process runs as uid 65534, not root\): RUN steps need root/);
    assert.match(output, /modprobe overlay/);
  });
});
