import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newTestStorage } from '../support/test-storage.js';
import { assertError, followPages, getJson, newApp, nextLink, pushImage, type App } from './fixtures.js';

interface Catalog {
  repositories: string[];
}

function catalog(app: App, url = '/v2/_catalog') {
  return getJson<Catalog>(app, url);
}

describe('GET /v2/_catalog', () => {
  test('an empty registry has an empty catalog', async (t) => {
    const app = await newApp(t);
    const { res, body } = await catalog(app);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.repositories ?? [], []);
  });

  test('the catalog lists every repository, nested names included, sorted', async (t) => {
    const app = await newApp(t);
    for (const repo of ['zeta', 'library/alpine', 'alpha', 'beta/two', 'beta/one', 'deep/ly/nested/repo']) {
      await pushImage(app, repo, { tag: 'latest' });
    }
    const { res, body } = await catalog(app);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(body?.repositories, ['alpha', 'beta/one', 'beta/two', 'deep/ly/nested/repo', 'library/alpine', 'zeta']);
  });

  test('a parent and its nested child are both listed when both hold images', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'team', { tag: 'a' });
    await pushImage(app, 'team/app', { tag: 'b' });
    const { body } = await catalog(app);
    assert.deepEqual(body?.repositories, ['team', 'team/app']);
  });

  test('a repository is listed once however many manifests it holds', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'a' });
    await pushImage(app, 'foo/bar', { tag: 'b' });
    assert.deepEqual((await catalog(app)).body?.repositories, ['foo/bar']);
  });

  test('n limits the page and Link points at the next page with n and last', async (t) => {
    const app = await newApp(t);
    for (const repo of ['d', 'b', 'a', 'c']) await pushImage(app, repo, { tag: 'latest' });
    const { res, body } = await catalog(app, '/v2/_catalog?n=2');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.repositories, ['a', 'b']);
    assert.equal(res.headers.link, '</v2/_catalog?n=2&last=b>; rel="next"');
  });

  test('last returns the repositories after it', async (t) => {
    const app = await newApp(t);
    for (const repo of ['d', 'b', 'a', 'c']) await pushImage(app, repo, { tag: 'latest' });
    const { res, body } = await catalog(app, '/v2/_catalog?n=2&last=b');
    assert.deepEqual(body?.repositories, ['c', 'd']);
    // the spec lets a server add a Link to an empty next page, but not to skip entries
    const next = nextLink(res.headers.link);
    if (next !== undefined) assert.deepEqual((await catalog(app, next)).body?.repositories ?? [], []);
  });

  test('following Link headers through nested names visits every repository exactly once, in order', async (t) => {
    const app = await newApp(t);
    const all = ['a', 'a/b', 'a/b/c', 'b', 'lib/x', 'lib/y', 'z'];
    for (const repo of [...all].reverse()) await pushImage(app, repo, { tag: 'latest' });
    assert.deepEqual(await followPages(app, '/v2/_catalog?n=2', 'repositories', 2), all);
  });

  test('repositories pushed through one instance are listed by another over the same storage', async (t) => {
    const storage = await newTestStorage();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    await pushImage(one, 'first/repo', { tag: 'latest' });
    assert.deepEqual((await catalog(two)).body?.repositories, ['first/repo']);
    await pushImage(two, 'second/repo', { tag: 'latest' });
    assert.deepEqual((await catalog(one)).body?.repositories, ['first/repo', 'second/repo']);
  });

  test('a non-numeric n returns 400', async (t) => {
    const app = await newApp(t);
    assertError((await catalog(app, '/v2/_catalog?n=many')).res, 400, ['PAGINATION_NUMBER_INVALID', 'UNSUPPORTED']);
  });
});
