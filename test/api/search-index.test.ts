// The search index against storage, its truth: catalog and tag lists equal the storage walk,
// other instances' writes arrive through the journal, an index file outlives a restart, and a
// rebuild (at start, or `wharf reindex`) gives what incremental updates gave.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { paginate } from '../../registry/pagination.js';
import { listRepositories } from '../../registry/repositories.js';
import { allowAll } from '../../registry/pull-access.js';
import { IndexJournal } from '../../registry/search/index-journal.js';
import { reindex } from '../../registry/search/reindex.js';
import { SearchDatabase } from '../../registry/search/search-database.js';
import { FilesystemDriver } from '../../registry/storage/filesystem.js';
import { MemoryDriver } from '../../registry/storage/memory.js';
import { StoragePaths } from '../../registry/storage/paths.js';
import type { StorageDriver } from '../../registry/storage/driver.js';
import { eventually } from '../support/eventually.js';
import { tempDir } from '../support/temp-dir.js';
import { newApp, pushImage, putManifest, type App } from './fixtures.js';

/** An app over `storage` with its search index at `searchIndex`, closed after the test. */
async function appWithIndex(t: TestContext, storage: StorageDriver, searchIndex: string): Promise<App> {
  const app = await newApp(t, storage, searchIndex);
  await indexReady(app);
  return app;
}

/** Waits until the app's search index answers (a search waits for a build in progress). */
async function indexReady(app: App): Promise<void> {
  await eventually('search index ready', 10_000, async () => ((await app.inject({ url: '/api/v1/search' })).statusCode === 200 ? true : undefined));
}

async function searchNames(app: App, query: string): Promise<string[]> {
  const res = await app.inject({ url: `/api/v1/search?${query}` });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { results: { name: string }[] }).results.map((r) => r.name);
}

/** Fills a registry: nested names, tags moved and deleted, a repository whose last manifest was deleted. */
async function populate(app: App): Promise<void> {
  for (const name of ['a', 'a/b', 'a/b/c', 'lib/x', 'lib/y', 'z']) await pushImage(app, name, { tag: 'latest', labels: { 'org.opencontainers.image.description': `the ${name} image` } });
  const image = await pushImage(app, 'lib/x', { tag: 'v1' });
  for (const tag of ['v2', 'v3', 'rc']) assert.equal((await putManifest(app, 'lib/x', tag, image.content)).statusCode, 201);
  assert.equal((await app.inject({ method: 'DELETE', url: '/v2/lib/x/manifests/rc' })).statusCode, 202);
  const doomed = await pushImage(app, 'gone/repo', { tag: 'latest' });
  assert.equal((await app.inject({ method: 'DELETE', url: `/v2/gone/repo/manifests/${doomed.digest}` })).statusCode, 202);
  await pushImage(app, 'by/digest');
}

/** Everything the index answers that a rebuild must reproduce. */
async function answers(app: App): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const url of ['/v2/_catalog', '/v2/_catalog?n=2&last=a/b', '/v2/lib/x/tags/list', '/api/v1/search', '/api/v1/search?q=lib', '/api/v1/search?q=image&sort=pushed', '/api/v1/repositories/lib/x', '/v1/search?q=a']) {
    const res = await app.inject({ url });
    out.push([url, res.statusCode, res.headers.link, res.json()]);
  }
  return out;
}

for (const [driverName, makeStorage] of [
  ['memory', async () => new MemoryDriver()],
  ['filesystem', async (t: TestContext) => new FilesystemDriver(await tempDir(t))],
] as const) {
  test(`${driverName}: the catalog and tag lists from the index equal those of the storage walk`, async (t) => {
    const storage = await makeStorage(t);
    const app = await appWithIndex(t, storage, 'memory://');
    await populate(app);
    const walked = await listRepositories(storage);
    assert.deepEqual(walked, ['a', 'a/b', 'a/b/c', 'by/digest', 'lib/x', 'lib/y', 'z'], 'a repository without manifests leaves the catalog');
    for (const request of [{}, { n: 0 }, { n: 1 }, { n: 3 }, { n: 3, last: 'a/b' }, { last: 'lib' }, { n: 100, last: 'zz' }]) {
      assert.deepEqual(await app.registry.search.catalog(request, allowAll), paginate(walked, request), JSON.stringify(request));
    }
    for (const name of walked) {
      const stored = await app.registry.manifests.tags(name);
      for (const request of [{}, { n: 1 }, { n: 2, last: 'v1' }]) assert.deepEqual(await app.registry.search.tags(name, request), paginate(stored, request), `${name} ${JSON.stringify(request)}`);
    }
    assert.deepEqual((await app.registry.manifests.tags('lib/x')), ['latest', 'v1', 'v2', 'v3']);
    // A repository the index does not hold is answered from storage: NAME_UNKNOWN, or [] for one with blobs only.
    assert.equal((await app.inject({ url: '/v2/never/pushed/tags/list' })).statusCode, 404);
    const emptied = await app.inject({ url: '/v2/gone/repo/tags/list' });
    assert.deepEqual([emptied.statusCode, emptied.json().tags ?? []], [200, []]);
  });
}

test('while the index cannot be used, the catalog and tag lists come from storage, page for page the same', async (t) => {
  const dir = await tempDir(t);
  const storage = new FilesystemDriver(join(dir, 'storage'));
  const indexed = await appWithIndex(t, storage, join(dir, 'index.db'));
  await populate(indexed);
  // Another process holds this index file: the registry serves without search.
  const holder = SearchDatabase.open(join(dir, 'held.db'), { exclusive: true });
  t.after(() => holder.close());
  const walking = await newApp(t, storage, join(dir, 'held.db'));
  for (const url of ['/v2/_catalog', '/v2/_catalog?n=2', '/v2/_catalog?n=2&last=a/b', '/v2/_catalog?last=lib', '/v2/_catalog?n=0', '/v2/lib/x/tags/list?n=2', '/v2/gone/repo/tags/list']) {
    const [fromIndex, fromWalk] = [await indexed.inject({ url }), await walking.inject({ url })];
    assert.deepEqual([fromWalk.statusCode, fromWalk.headers.link, fromWalk.json()], [fromIndex.statusCode, fromIndex.headers.link, fromIndex.json()], url);
  }
  const search = await walking.inject({ url: '/api/v1/search?q=lib' });
  assert.equal(search.statusCode, 503);
  assert.equal(search.headers['retry-after'], '5');
  assert.equal(search.json().errors[0].code, 'UNAVAILABLE');
});

describe('several instances on one storage', () => {
  test('an instance finds what another pushed, retagged and deleted, through the journal', async (t) => {
    const storage = new MemoryDriver();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    await indexReady(one);
    await indexReady(two);
    const first = await pushImage(one, 'shared/app', { tag: 'v1', labels: { 'org.opencontainers.image.description': 'shared thing' } });
    assert.deepEqual(await searchNames(two, 'q=shared'), ['shared/app']);
    const second = await pushImage(two, 'shared/app', { tag: 'v1' });
    const tags = async (app: App) => (await app.inject({ url: '/api/v1/repositories/shared/app' })).json().tags.map((tag: { name: string; digest: string }) => [tag.name, tag.digest]);
    assert.deepEqual(await tags(one), [['v1', second.digest]]);
    assert.equal((await one.inject({ method: 'DELETE', url: `/v2/shared/app/manifests/${second.digest}` })).statusCode, 202);
    assert.deepEqual(await tags(two), []);
    assert.equal((await two.inject({ method: 'DELETE', url: `/v2/shared/app/manifests/${first.digest}` })).statusCode, 202);
    assert.deepEqual(await searchNames(one, 'q=shared'), []);
    assert.deepEqual((await one.inject({ url: '/v2/_catalog' })).json().repositories, []);
  });

  test('an instance started later reads the whole storage', async (t) => {
    const storage = new MemoryDriver();
    const one = await newApp(t, storage);
    await pushImage(one, 'early/bird', { tag: 'latest' });
    const late = await newApp(t, storage);
    assert.deepEqual(await searchNames(late, 'q=early'), ['early/bird']);
  });
});

/**
 * A registry with its index in a file, which pushed `kept/one`; then `sneaky/repo` is written behind
 * its back, so only an index rebuilt from storage knows it. The registry is left running.
 */
async function indexMissingARepository(t: TestContext): Promise<{ storage: FilesystemDriver; path: string; app: App }> {
  const dir = await tempDir(t);
  const storage = new FilesystemDriver(join(dir, 'storage'));
  const path = join(dir, 'index.db');
  const app = await appWithIndex(t, storage, path);
  const image = await pushImage(app, 'kept/one', { tag: 'latest' });
  await storage.putContent(StoragePaths.revisionLink('sneaky/repo', image.digest), Buffer.from(image.digest));
  return { storage, path, app };
}

describe('the index file', () => {
  test('is reused at restart, and rebuilt when storage starts a new generation', async (t) => {
    const { storage, path, app: first } = await indexMissingARepository(t);
    await first.close();
    // A reused index does not know sneaky/repo.
    const second = await appWithIndex(t, storage, path);
    assert.deepEqual(await searchNames(second, ''), ['kept/one']);
    await second.close();

    await new IndexJournal(storage, 'test').renewGeneration();
    const third = await appWithIndex(t, storage, path);
    assert.deepEqual(await searchNames(third, ''), ['kept/one', 'sneaky/repo']);
  });

  test('of another schema version, or damaged, is rebuilt at start', async (t) => {
    const { storage, path, app: first } = await indexMissingARepository(t);
    await first.close();

    const db = new Database(path);
    db.prepare("UPDATE meta SET value = '0' WHERE key = 'schema_version'").run();
    db.close();
    const second = await appWithIndex(t, storage, path);
    assert.deepEqual(await searchNames(second, ''), ['kept/one', 'sneaky/repo']);
    await second.close();

    await writeFile(path, 'not a database at all, but long enough to look like a header of one...');
    const third = await appWithIndex(t, storage, path);
    assert.deepEqual(await searchNames(third, ''), ['kept/one', 'sneaky/repo']);
    assert.match((await readFile(path)).subarray(0, 16).toString(), /^SQLite format 3/);
  });

  test('rebuilt by reindex answers exactly as the incrementally updated one did', async (t) => {
    const dir = await tempDir(t);
    const storage = new FilesystemDriver(join(dir, 'storage'));
    const incremental = await appWithIndex(t, storage, join(dir, 'incremental.db'));
    await populate(incremental);
    const expected = await answers(incremental);
    await incremental.close();

    const outcome = await reindex(storage, join(dir, 'rebuilt.db'));
    assert.ok(outcome.rebuilt);
    assert.deepEqual([outcome.repositories, outcome.tags], [7, 9]);
    const rebuilt = await appWithIndex(t, storage, join(dir, 'rebuilt.db'));
    assert.deepEqual(await answers(rebuilt), expected);
  });

  test('held by a running registry: reindex starts a new generation, and the registry rebuilds its index', async (t) => {
    const { storage, path, app } = await indexMissingARepository(t);
    const outcome = await reindex(storage, path);
    assert.equal(outcome.rebuilt, false);
    await eventually('the running registry rebuilt its index', 20_000, async () => ((await searchNames(app, '')).includes('sneaky/repo') ? true : undefined));
  });
});
