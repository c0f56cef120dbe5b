import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MediaType } from '../../shared/media-types.js';
import { newTestStorage } from '../support/test-storage.js';
import { assertError, followPages, getJson, newApp, nextLink, pushBlob, pushImage, putManifest, type App } from './fixtures.js';

interface TagList {
  name: string;
  tags: string[];
}

/** Pushes one image and tags it with every name given. */
async function tagImage(app: App, repo: string, tags: readonly string[]): Promise<void> {
  const image = await pushImage(app, repo);
  for (const tag of tags) {
    const res = await putManifest(app, repo, tag, image.content, MediaType.OciManifest);
    assert.equal(res.statusCode, 201, `tag ${tag}: ${res.body}`);
  }
}

function listTags(app: App, url: string) {
  return getJson<TagList>(app, url);
}

describe('GET /v2/<name>/tags/list', () => {
  test('tags/list returns the repository name and its tags sorted', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['v2', 'latest', 'v10', '1.0', 'Alpha', 'v1', '_internal']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(body?.name, 'foo/bar');
    assert.deepEqual(body?.tags, ['1.0', 'Alpha', '_internal', 'latest', 'v1', 'v10', 'v2']);
    assert.equal(res.headers.link, undefined);
  });

  test('tags/list lists only the tags of its own repository', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a']);
    await tagImage(app, 'foo/bar/baz', ['b']);
    await tagImage(app, 'foo', ['c']);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/tags/list')).body?.tags, ['a']);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/baz/tags/list')).body?.tags, ['b']);
    assert.deepEqual((await listTags(app, '/v2/foo/tags/list')).body?.tags, ['c']);
  });

  test('tags are case-sensitive', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['latest']);
    await tagImage(app, 'foo/bar', ['Latest']);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/tags/list')).body?.tags, ['Latest', 'latest']);
    const lower = await app.inject({ method: 'GET', url: '/v2/foo/bar/manifests/latest' });
    const upper = await app.inject({ method: 'GET', url: '/v2/foo/bar/manifests/Latest' });
    assert.notEqual(lower.headers['docker-content-digest'], upper.headers['docker-content-digest']);
  });

  test('a tag of the maximum 128 characters is accepted and listed', async (t) => {
    const app = await newApp(t);
    const tag = `v${'1'.repeat(127)}`;
    await tagImage(app, 'foo/bar', [tag]);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/tags/list')).body?.tags, [tag]);
  });

  test('a tag pushed twice is listed once', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['latest']);
    await tagImage(app, 'foo/bar', ['latest']);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/tags/list')).body?.tags, ['latest']);
  });

  test('a repository whose manifests were pushed only by digest lists no tags', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar');
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.tags ?? [], []);
  });

  test('tags/list of an unknown repository returns 404 NAME_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['latest']);
    assertError((await listTags(app, '/v2/no/such/repo/tags/list')).res, 404, 'NAME_UNKNOWN');
  });

  test('a deleted tag is no longer listed', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a', 'b', 'c']);
    const del = await app.inject({ method: 'DELETE', url: '/v2/foo/bar/manifests/b' });
    assert.equal(del.statusCode, 202);
    assert.deepEqual((await listTags(app, '/v2/foo/bar/tags/list')).body?.tags, ['a', 'c']);
  });
});

describe('GET /v2/<name>/tags/list pagination', () => {
  test('n limits the page and Link points at the next one with n and last', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['d', 'b', 'a', 'e', 'c']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=2');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.tags, ['a', 'b']);
    assert.equal(res.headers.link, '</v2/foo/bar/tags/list?n=2&last=b>; rel="next"');
  });

  test('last returns the tags after it', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['d', 'b', 'a', 'e', 'c']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=2&last=b');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.tags, ['c', 'd']);
    assert.equal(res.headers.link, '</v2/foo/bar/tags/list?n=2&last=d>; rel="next"');
  });

  test('last without n returns every tag after it', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['d', 'b', 'a', 'e', 'c']);
    const { body } = await listTags(app, '/v2/foo/bar/tags/list?last=b');
    assert.deepEqual(body?.tags, ['c', 'd', 'e']);
  });

  test('last that is not itself a tag still returns the tags sorted after it', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a', 'c', 'e']);
    const { body } = await listTags(app, '/v2/foo/bar/tags/list?n=10&last=b');
    assert.deepEqual(body?.tags, ['c', 'e']);
  });

  test('the last page has no Link header', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['d', 'b', 'a', 'e', 'c']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=2&last=d');
    assert.deepEqual(body?.tags, ['e']);
    assert.equal(res.headers.link, undefined);
  });

  test('n larger than the tag count returns every tag and no Link', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['b', 'a']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=100');
    assert.deepEqual(body?.tags, ['a', 'b']);
    assert.equal(res.headers.link, undefined);
  });

  test('n=0 returns an empty list and no Link', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['b', 'a']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=0');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.tags ?? [], []);
    assert.equal(res.headers.link, undefined);
  });

  test('following Link headers visits every tag exactly once, in order', async (t) => {
    const app = await newApp(t);
    const all = Array.from({ length: 11 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    await tagImage(app, 'foo/bar', [...all].reverse());
    assert.deepEqual(await followPages(app, '/v2/foo/bar/tags/list?n=3', 'tags', 3), all);
  });

  test('a tag with characters that need no escaping round-trips through Link', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['v1.0_rc-1', 'v1.0_rc-2', 'v1.1']);
    const first = await listTags(app, '/v2/foo/bar/tags/list?n=1');
    const second = await listTags(app, nextLink(first.res.headers.link)!);
    assert.deepEqual(second.body?.tags, ['v1.0_rc-2']);
  });

  test('a non-numeric n returns 400', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a']);
    assertError((await listTags(app, '/v2/foo/bar/tags/list?n=abc')).res, 400, ['PAGINATION_NUMBER_INVALID', 'UNSUPPORTED']);
  });

  test('a negative n returns 400', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a']);
    assertError((await listTags(app, '/v2/foo/bar/tags/list?n=-1')).res, 400, ['PAGINATION_NUMBER_INVALID', 'UNSUPPORTED']);
  });
});

describe('tags and storage', () => {
  test('tags pushed through one instance are listed by another over the same storage', async (t) => {
    const storage = await newTestStorage();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    await tagImage(one, 'foo/bar', ['b', 'a']);
    assert.deepEqual((await listTags(two, '/v2/foo/bar/tags/list')).body?.tags, ['a', 'b']);
  });

  test('last sorting after every tag returns an empty list and no Link', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a', 'b']);
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list?n=5&last=zzz');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.tags ?? [], []);
    assert.equal(res.headers.link, undefined);
  });

  test('a repeated n parameter does not cause a server error', async (t) => {
    const app = await newApp(t);
    await tagImage(app, 'foo/bar', ['a', 'b']);
    const { res } = await listTags(app, '/v2/foo/bar/tags/list?n=1&n=2');
    assert.ok(res.statusCode < 500, `got ${res.statusCode} ${res.body}`);
  });

  test('a repository holding only blobs has no tags to list', async (t) => {
    const app = await newApp(t);
    await pushBlob(app, 'foo/bar');
    const { res, body } = await listTags(app, '/v2/foo/bar/tags/list');
    if (res.statusCode === 200) assert.deepEqual(body?.tags ?? [], []);
    else assertError(res, 404, 'NAME_UNKNOWN');
  });
});
