import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { RepositoryResult, RepositorySummary } from '../../registry/search/search-database.js';
import { MediaType } from '../../shared/media-types.js';
import { ON_S3 } from '../support/test-storage.js';
import {
  assertError,
  getJson,
  indexBytes,
  newApp,
  nextLink,
  pushImage,
  pushManifest,
  pushReferrer,
  putManifest,
  type App,
  type PushedImage,
} from './fixtures.js';

const DESCRIPTION = 'org.opencontainers.image.description';

/** Between pushes whose order a test checks: push times are storage modification times, whole seconds on S3. */
const PUSH_TIME_STEP_MS = ON_S3 ? 1100 : 5;

interface SearchPage {
  query: string;
  sort: string;
  page: number;
  pageSize: number;
  total: number;
  pages: number;
  results: RepositoryResult[];
}

async function search(app: App, query: string): Promise<SearchPage> {
  const { res, body } = await getJson<SearchPage>(app, `/api/v1/search?${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return body!;
}

async function names(app: App, query: string): Promise<string[]> {
  return (await search(app, query)).results.map((result) => result.name);
}

function described(description: string, extra: Record<string, string> = {}) {
  return { labels: { [DESCRIPTION]: description, ...extra } };
}

describe('GET /api/v1/search', () => {
  test('a pushed image is found at once by its name, a word of its name and a word of its description', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'tools/busybox', { tag: 'latest', ...described('A tiny toolbox of Unix utilities') });
    assert.deepEqual(await names(app, 'q=tools/busybox'), ['tools/busybox']);
    assert.deepEqual(await names(app, 'q=busybox'), ['tools/busybox']);
    assert.deepEqual(await names(app, 'q=tools'), ['tools/busybox']);
    assert.deepEqual(await names(app, 'q=utilities'), ['tools/busybox']);
    assert.deepEqual(await names(app, 'q=UNIX'), ['tools/busybox'], 'case does not matter');
    assert.deepEqual(await names(app, 'q=nothing-like-it'), []);
  });

  test('names are split into words at / - _ and .', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'acme/web-server_v2.core', { tag: 'latest' });
    for (const word of ['acme', 'web', 'server', 'v2', 'core']) assert.deepEqual(await names(app, `q=${word}`), ['acme/web-server_v2.core'], word);
  });

  test('relevance: the exact name, then names (or name components) it starts, then names with its words, then descriptions', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'zz/mentions', { tag: 'latest', ...described('built on redis') });
    await pushImage(app, 'aa/redis-tools', { tag: 'latest' });
    await pushImage(app, 'redis-cluster', { tag: 'latest' });
    await pushImage(app, 'redis', { tag: 'latest' });
    await pushImage(app, 'cache/redis', { tag: 'latest' });
    await pushImage(app, 'aa/my-redis', { tag: 'latest' });
    // Ties go by name: the names or name components that start with the query are one tier.
    assert.deepEqual(await names(app, 'q=redis'), ['redis', 'aa/redis-tools', 'cache/redis', 'redis-cluster', 'aa/my-redis', 'zz/mentions']);
    // Several words: every word must start a word somewhere; names holding them all rank first.
    await pushImage(app, 'cache/redis-exporter', { tag: 'latest', ...described('metrics') });
    await pushImage(app, 'metrics/collector', { tag: 'latest', ...described('for redis') });
    assert.deepEqual(await names(app, 'q=redis metrics'), ['cache/redis-exporter', 'metrics/collector']);
  });

  test('sort=pushed lists the most recently pushed repository first', async (t) => {
    const app = await newApp(t);
    for (const name of ['b', 'c', 'a']) {
      await pushImage(app, `sorted/${name}`, { tag: 'latest' });
      await delay(PUSH_TIME_STEP_MS);
    }
    assert.deepEqual(await names(app, 'q=sorted&sort=pushed'), ['sorted/a', 'sorted/c', 'sorted/b']);
    await pushImage(app, 'sorted/b', { tag: 'again' });
    assert.deepEqual(await names(app, 'q=sorted&sort=pushed'), ['sorted/b', 'sorted/a', 'sorted/c']);
    assert.deepEqual(await names(app, 'q=sorted'), ['sorted/a', 'sorted/b', 'sorted/c'], 'relevance ties go by name');
  });

  test('a result carries the description, labels, platforms, size, push time and the most recent tags', async (t) => {
    const app = await newApp(t);
    const before = Date.now() - 1000;
    const image = await pushImage(app, 'shop/api', { tag: 'v1', layerCount: 2, ...described('The shop API', { 'org.opencontainers.image.vendor': 'Acme' }) });
    assert.equal((await putManifest(app, 'shop/api', 'latest', image.content)).statusCode, 201);
    const [result] = (await search(app, 'q=shop')).results;
    assert.ok(result);
    assert.equal(result.description, 'The shop API');
    assert.deepEqual(result.labels, { [DESCRIPTION]: 'The shop API', 'org.opencontainers.image.vendor': 'Acme' });
    assert.deepEqual(result.platforms, ['linux/amd64']);
    assert.deepEqual(result.artifactTypes, [MediaType.OciConfig]);
    assert.equal(result.digest, image.digest);
    assert.equal(result.size, imageSize(image));
    assert.ok(Date.parse(result.pushedAt) >= before && Date.parse(result.pushedAt) <= Date.now() + 1000, result.pushedAt);
    assert.equal(result.tagCount, 2);
    assert.deepEqual(result.tags.map((tag) => tag.name).sort(), ['latest', 'v1']);
    for (const tag of result.tags) {
      assert.equal(tag.digest, image.digest);
      assert.equal(tag.size, imageSize(image));
    }
  });

  test('the description is that of the latest tagged image that has one', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'docs/app', { tag: 'v1', ...described('first words') });
    await delay(PUSH_TIME_STEP_MS);
    const second = await pushImage(app, 'docs/app', { tag: 'v2', ...described('second words') });
    assert.equal((await search(app, 'q=docs')).results[0]!.description, 'second words');
    assert.deepEqual(await names(app, 'q=second'), ['docs/app']);
    assert.deepEqual(await names(app, 'q=first'), [], 'only the shown description is searched');
    // A signature pushed later (untagged, without labels) changes neither the description nor the latest image.
    await delay(PUSH_TIME_STEP_MS);
    await pushReferrer(app, 'docs/app', second.descriptor, { artifactType: 'application/vnd.example.sig' });
    const result = (await search(app, 'q=docs')).results[0]!;
    assert.equal(result.description, 'second words');
    assert.equal(result.digest, second.digest);
  });

  test('filters: label (KEY or KEY=VALUE), tag, artifactType and platform, combined', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'f/one', { tag: 'stable', labels: { tier: 'gold', team: 'a' }, architecture: 'arm64', variant: 'v8' });
    await pushImage(app, 'f/two', { tag: 'edge', labels: { tier: 'silver' } });
    await pushImage(app, 'f/three', { tag: 'stable', artifactType: 'application/vnd.example.chart', configMediaType: MediaType.OciEmpty });
    assert.deepEqual(await names(app, 'label=tier'), ['f/one', 'f/two']);
    assert.deepEqual(await names(app, 'label=tier=gold'), ['f/one']);
    assert.deepEqual(await names(app, 'label=tier=gold&label=team=a'), ['f/one']);
    assert.deepEqual(await names(app, 'label=tier=gold&label=team=b'), []);
    assert.deepEqual(await names(app, 'tag=stable'), ['f/one', 'f/three']);
    assert.deepEqual(await names(app, 'tag=stable&q=three'), ['f/three']);
    assert.deepEqual(await names(app, 'artifactType=application/vnd.example.chart'), ['f/three']);
    assert.deepEqual(await names(app, `artifactType=${encodeURIComponent(MediaType.OciConfig)}`), ['f/one', 'f/two']);
    assert.deepEqual(await names(app, 'platform=linux/arm64/v8'), ['f/one']);
    assert.deepEqual(await names(app, 'platform=linux/amd64'), ['f/two']);
    assert.deepEqual(await names(app, 'platform=windows/amd64'), []);
  });

  test('an image index shows the platforms of its images and the labels of the first', async (t) => {
    const app = await newApp(t);
    const amd = await pushImage(app, 'multi/app', { ...described('multi-platform app') });
    const arm = await pushImage(app, 'multi/app', { architecture: 'arm64', ...described('multi-platform app') });
    const platformOf = (image: PushedImage, architecture: string) => ({ ...image.descriptor, platform: { os: 'linux', architecture } });
    const index = indexBytes({ manifests: [platformOf(amd, 'amd64'), platformOf(arm, 'arm64')] });
    const pushed = await pushManifest(app, 'multi/app', index, MediaType.OciIndex, 'latest');
    const result = (await search(app, 'q=multi')).results[0]!;
    assert.equal(result.digest, pushed.digest, 'the tagged index is the latest manifest');
    assert.deepEqual(result.platforms, ['linux/amd64', 'linux/arm64']);
    assert.equal(result.description, 'multi-platform app');
    assert.equal(result.size, index.length + imageSize(amd) + imageSize(arm));
    assert.deepEqual(await names(app, 'platform=linux/arm64'), ['multi/app']);
  });

  test('n and page paginate; total, pages and a Link to the next page', async (t) => {
    const app = await newApp(t);
    for (const name of ['p/a', 'p/b', 'p/c', 'p/d', 'p/e']) await pushImage(app, name, { tag: 'latest' });
    const first = await getJson<SearchPage>(app, '/api/v1/search?q=p&n=2');
    assert.deepEqual(first.body?.results.map((r) => r.name), ['p/a', 'p/b']);
    assert.equal(first.body?.total, 5);
    assert.equal(first.body?.pages, 3);
    const seen = [...first.body!.results.map((r) => r.name)];
    let next = nextLink(first.res.headers.link);
    while (next !== undefined) {
      const page = await getJson<SearchPage>(app, next);
      assert.equal(page.res.statusCode, 200);
      seen.push(...page.body!.results.map((r) => r.name));
      next = nextLink(page.res.headers.link);
    }
    assert.deepEqual(seen, ['p/a', 'p/b', 'p/c', 'p/d', 'p/e']);
    assert.deepEqual(await names(app, 'q=p&n=2&page=9'), [], 'a page past the end is empty');
    assert.equal((await search(app, 'q=p')).pageSize, 25, 'n defaults to 25');
  });

  test('deleting the last manifest of a repository removes it; deleting a tag updates its tags', async (t) => {
    const app = await newApp(t);
    const one = await pushImage(app, 'gone/soon', { tag: 'v1' });
    const two = await pushImage(app, 'gone/soon', { tag: 'v2' });
    assert.equal((await app.inject({ method: 'DELETE', url: '/v2/gone/soon/manifests/v2' })).statusCode, 202);
    let result = (await search(app, 'q=gone')).results[0]!;
    assert.deepEqual(result.tags.map((tag) => tag.name), ['v1']);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v2/gone/soon/manifests/${one.digest}` })).statusCode, 202);
    result = (await search(app, 'q=gone')).results[0]!;
    assert.equal(result.tagCount, 0, 'the untagged manifest remains');
    assert.equal(result.digest, two.digest);
    assert.equal((await app.inject({ method: 'DELETE', url: `/v2/gone/soon/manifests/${two.digest}` })).statusCode, 202);
    assert.deepEqual(await names(app, 'q=gone'), []);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/repositories/gone/soon' })).statusCode, 404);
  });

  test('a tag pushed again for another manifest moves in the results', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'moving/tag', { tag: 'latest', ...described('old build') });
    const newer = await pushImage(app, 'moving/tag', { tag: 'latest', ...described('new build') });
    const result = (await search(app, 'q=moving')).results[0]!;
    assert.deepEqual(result.tags.map((tag) => [tag.name, tag.digest]), [['latest', newer.digest]]);
    assert.equal(result.description, 'new build');
  });

  test('malformed queries answer 400 with a message, never 500', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'some/repo', { tag: 'latest' });
    const cases: [string, string][] = [
      ['q=%22quoted%22', 'QUERY_INVALID'],
      ['q=pre*', 'QUERY_INVALID'],
      ['q=a%20OR%20(b', 'QUERY_INVALID'],
      ['q=name:x', 'QUERY_INVALID'],
      ['q=%5Estart', 'QUERY_INVALID'],
      ['q=a%2Bb', 'QUERY_INVALID'],
      [`q=${'a'.repeat(256)}`, 'QUERY_INVALID'],
      [`q=${'b'.repeat(101)}`, 'QUERY_INVALID'],
      [`q=${Array.from({ length: 17 }, (_, i) => `w${i}`).join('%20')}`, 'QUERY_INVALID'],
      ['q=a&q=b', 'QUERY_INVALID'],
      ['n=0', 'PAGINATION_NUMBER_INVALID'],
      ['n=101', 'PAGINATION_NUMBER_INVALID'],
      ['n=ten', 'PAGINATION_NUMBER_INVALID'],
      ['n=-1', 'PAGINATION_NUMBER_INVALID'],
      ['page=0', 'PAGINATION_NUMBER_INVALID'],
      ['page=1.5', 'PAGINATION_NUMBER_INVALID'],
      ['page=99999999999', 'PAGINATION_NUMBER_INVALID'],
      ['sort=stars', 'QUERY_INVALID'],
      ['label=', 'QUERY_INVALID'],
      ['label==value', 'QUERY_INVALID'],
      ['tag=-bad', 'QUERY_INVALID'],
      ['artifactType=not-a-type', 'QUERY_INVALID'],
      ['platform=linux', 'QUERY_INVALID'],
      ['platform=Linux/AMD64', 'QUERY_INVALID'],
    ];
    for (const [query, code] of cases) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/search?${query}` });
      assertError(res, 400, code);
      assert.ok(JSON.parse(res.body).errors[0].message.length > 10, `${query}: ${res.body}`);
    }
    // FTS keywords and odd words that are allowed are plain words.
    for (const query of ['q=AND', 'q=NEAR', 'q=not%20or', 'q=caf%C3%A9', 'q=-', 'q=%20%20', 'q=a-b_c.d/e']) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/search?${query}` });
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
    }
  });

  test('an empty query lists every repository, by name', async (t) => {
    const app = await newApp(t);
    for (const name of ['z', 'a/b', 'm']) await pushImage(app, name, { tag: 'latest' });
    assert.deepEqual(await names(app, ''), ['a/b', 'm', 'z']);
  });

  test('results hold only repositories the caller may pull', async (t) => {
    const app = await newApp(t);
    for (const name of ['team/a', 'team/b', 'team/c', 'other/d']) await pushImage(app, name, { tag: 'latest' });
    await search(app, 'q=team');
    const canPull = (name: string) => name !== 'team/b';
    const query = { text: '', words: [], labels: [], tags: [], artifactTypes: [], platforms: [], sort: 'relevance' as const, page: 1, pageSize: 2 };
    const page = await app.registry.search.search(query, canPull);
    assert.equal(page.total, 3);
    assert.deepEqual(page.results.map((r) => r.name), ['other/d', 'team/a']);
    const second = await app.registry.search.search({ ...query, page: 2 }, canPull);
    assert.deepEqual(second.results.map((r) => r.name), ['team/c']);
    assert.deepEqual((await app.registry.catalog({}, canPull)).page, ['other/d', 'team/a', 'team/c']);
    assert.equal(await app.registry.search.repository('team/b', canPull), undefined);
  });
});

describe('GET /api/v1/repositories/<name>', () => {
  test('answers every tag and manifest of one repository', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'sum/mary', { tag: 'v1', ...described('summed up') });
    assert.equal((await putManifest(app, 'sum/mary', 'v2', image.content)).statusCode, 201);
    const other = await pushImage(app, 'sum/mary', { architecture: 'arm64' });
    const { res, body } = await getJson<RepositorySummary>(app, '/api/v1/repositories/sum/mary');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(body?.name, 'sum/mary');
    assert.equal(body?.description, 'summed up');
    assert.deepEqual(body?.tags.map((tag) => tag.name), ['v1', 'v2']);
    assert.deepEqual(body?.platforms, ['linux/amd64', 'linux/arm64']);
    assert.deepEqual(body?.manifests.map((m) => m.digest).sort(), [image.digest, other.digest].sort());
    const tagged = body?.manifests.find((m) => m.digest === image.digest);
    assert.deepEqual(tagged?.tags, ['v1', 'v2']);
    assert.equal(tagged?.mediaType, MediaType.OciManifest);
    assert.equal(tagged?.size, imageSize(image));
  });

  test('an unknown repository is 404 NAME_UNKNOWN, an invalid name 400 NAME_INVALID', async (t) => {
    const app = await newApp(t);
    assertError(await app.inject({ method: 'GET', url: '/api/v1/repositories/no/such' }), 404, 'NAME_UNKNOWN');
    assertError(await app.inject({ method: 'GET', url: '/api/v1/repositories/Bad..Name' }), 400, 'NAME_INVALID');
  });
});

/** The size search reports for an image: manifest, config and layers. */
function imageSize(image: PushedImage): number {
  return image.size + image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
}
