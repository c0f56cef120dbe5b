// `docker search HOST:PORT/term` against a real `wharf serve`: the engine pings /v1/_ping, then
// asks /v1/search. Images carry their description as the org.opencontainers.image.description label.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storageEnv, storageSpecFor } from '../support/test-storage.js';
import { runWharf } from '../support/wharf-process.js';
import { digestFromOutput, docker, dockerUnavailableReason, importBusyboxImage, startRegistry, testImage, withServerLogs, type RunningRegistry } from './harness.js';

const unavailable = await dockerUnavailableReason();
if (unavailable) console.log(`# skipping docker search end-to-end tests: ${unavailable}`);

const IMAGES = {
  'tools/busybox-shell': 'A tiny shell for the wharf search tests',
  'apps/web-frontend': 'Serves the storefront pages',
  'apps/web-backend': 'The storefront API service',
  'apps/batch-worker': 'Nightly storefront reports',
} as const;

describe('docker search against wharf serve', { skip: unavailable ?? false }, () => {
  let storage: string;
  let registry: RunningRegistry;
  const localRefs = new Set<string>();
  const digests = new Map<string, string>();

  before(async () => {
    await testImage();
    storage = await mkdtemp(join(tmpdir(), 'wharf-e2e-search-'));
    registry = await startRegistry({ storage });
    for (const [name, description] of Object.entries(IMAGES)) {
      const ref = `${registry.host}/${name}:1`;
      await importBusyboxImage(ref, { 'etc/wharf-nonce': `${randomUUID()}\n` }, [`LABEL org.opencontainers.image.description="${description}"`]);
      localRefs.add(ref);
      digests.set(name, digestFromOutput((await docker(['push', ref])).stdout));
    }
  });

  after(async () => {
    for (const ref of localRefs) await docker(['rmi', '-f', ref]).catch(() => {});
    await registry?.stop();
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  /** `docker search` results as sorted "name|description" lines. */
  async function search(term: string, ...flags: string[]): Promise<string[]> {
    const { stdout } = await docker(['search', '--no-trunc', '--format', '{{.Name}}|{{.Description}}', ...flags, `${registry.host}/${term}`]);
    return stdout.split('\n').filter((line) => line !== '').sort();
  }

  test('finds an image by a word of its name, with its description label', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      assert.deepEqual(await search('busybox'), [`tools/busybox-shell|${IMAGES['tools/busybox-shell']}`]);
      assert.deepEqual(await search('tools/busybox-shell'), [`tools/busybox-shell|${IMAGES['tools/busybox-shell']}`]);
      assert.deepEqual(await search('web'), [`apps/web-backend|${IMAGES['apps/web-backend']}`, `apps/web-frontend|${IMAGES['apps/web-frontend']}`]);
    }));

  test('finds images by a word of their description', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      assert.deepEqual(await search('storefront'), ['apps/batch-worker', 'apps/web-backend', 'apps/web-frontend'].map((name) => `${name}|${IMAGES[name as keyof typeof IMAGES]}`));
      assert.deepEqual(await search('nothing-matches-this'), []);
    }));

  test('--limit caps the results', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      assert.equal((await search('storefront', '--limit', '2')).length, 2);
      assert.equal((await search('storefront', '--limit', '1')).length, 1);
    }));

  test('a deleted repository is no longer found; the rest survive a restart and `wharf reindex`', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      const deleted = await fetch(`${registry.url}/v2/apps/batch-worker/manifests/${digests.get('apps/batch-worker')}`, { method: 'DELETE' });
      assert.equal(deleted.status, 202);
      const expected = ['apps/web-backend', 'apps/web-frontend'].map((name) => `${name}|${IMAGES[name as keyof typeof IMAGES]}`);
      assert.deepEqual(await search('storefront'), expected);

      await registry.stop();
      registry = await startRegistry({ storage });
      assert.deepEqual(await search('storefront'), expected, 'after a restart on the same storage');

      await registry.stop();
      const reindexed = await runWharf(['reindex', '--storage', await storageSpecFor(storage)], { env: storageEnv() });
      assert.equal(reindexed.code, 0, reindexed.stderr);
      assert.match(reindexed.stdout, /^indexed 3 repositories \(3 manifests, 3 tags\) from (filesystem|s3):/);
      registry = await startRegistry({ storage });
      assert.deepEqual(await search('storefront'), expected, 'after wharf reindex');
      assert.deepEqual(await search('busybox'), [`tools/busybox-shell|${IMAGES['tools/busybox-shell']}`]);
    }));
});
