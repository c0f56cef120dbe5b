import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';
import { absentDigest, assertError, manifestBytes, newApp, pushImage, type App } from './fixtures.js';

// A literal `..` path segment cannot reach the app through inject: light-my-request (like any
// URL parser) folds `/a/../b` to `/b` before routing. The names below keep dots inside segments.
const INVALID_NAMES = [
  'Foo/bar', // upper case
  'foo/BAR',
  'foo..bar', // a run of dots is not a separator
  'foo/..bar', // a component may not start with a separator
  'a__-b', // mixed separators
  'a_-b',
  'a.-b',
  '-foo', // leading separator
  'foo-', // trailing separator
  'foo_/bar',
  'foo/.bar',
  'a___b', // three underscores
  'foo//bar', // empty component
  'foo/bar$',
  'foo bar',
  `${'a'.repeat(128)}/${'b'.repeat(127)}`, // 256 characters
];

function endpoints(name: string): { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; headers?: Record<string, string>; payload?: Buffer }[] {
  const digest = absentDigest();
  const manifest = manifestBytes({ config: { mediaType: MediaType.OciConfig, digest, size: 2 } });
  return [
    { method: 'POST', url: `/v2/${name}/blobs/uploads/` },
    { method: 'GET', url: `/v2/${name}/blobs/${digest}` },
    { method: 'DELETE', url: `/v2/${name}/blobs/${digest}` },
    { method: 'GET', url: `/v2/${name}/manifests/latest` },
    { method: 'PUT', url: `/v2/${name}/manifests/latest`, headers: { 'content-type': MediaType.OciManifest }, payload: manifest },
    { method: 'DELETE', url: `/v2/${name}/manifests/${digestOf(manifest)}` },
    { method: 'GET', url: `/v2/${name}/tags/list` },
    { method: 'GET', url: `/v2/${name}/referrers/${digest}` },
  ];
}

async function expectNameInvalid(app: App, name: string): Promise<void> {
  for (const request of endpoints(name)) {
    const res = await app.inject(request);
    assert.equal(res.statusCode, 400, `${request.method} ${request.url}: expected 400 NAME_INVALID, got ${res.statusCode} ${res.body}`);
    assertError(res, 400, 'NAME_INVALID');
  }
}

describe('repository names', () => {
  for (const name of INVALID_NAMES) {
    test(`the invalid name "${name.length > 40 ? `${name.slice(0, 20)}…(${name.length} chars)` : name}" returns 400 NAME_INVALID on every endpoint`, async (t) => {
      const app = await newApp(t);
      await expectNameInvalid(app, name);
    });
  }

  test('valid names with every separator kind, nesting and exactly 255 characters are accepted', async (t) => {
    const app = await newApp(t);
    const longest = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    assert.equal(longest.length, 255);
    for (const name of ['a', 'a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a1/b2/c3/d4', 'library/alpine', '0/9', longest]) {
      const image = await pushImage(app, name, { tag: 'latest' });
      const res = await app.inject({ method: 'GET', url: `/v2/${name}/manifests/latest` });
      assert.equal(res.statusCode, 200, `${name}: ${res.statusCode} ${res.body}`);
      assert.equal(res.headers['docker-content-digest'], image.digest);
    }
  });

  test('a valid name that was never pushed returns NAME_UNKNOWN, not NAME_INVALID, on tags/list', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'GET', url: '/v2/valid/but-absent/tags/list' });
    assertError(res, 404, 'NAME_UNKNOWN');
  });

  test('a name component that looks like an endpoint keyword still routes as part of the name', async (t) => {
    const app = await newApp(t);
    for (const name of ['blobs/x', 'manifests/x', 'tags/x', 'foo/blobs', 'foo/manifests']) {
      const image = await pushImage(app, name, { tag: 'latest' });
      const res = await app.inject({ method: 'GET', url: `/v2/${name}/manifests/latest` });
      assert.equal(res.statusCode, 200, `${name}: ${res.statusCode} ${res.body}`);
      assert.equal(res.headers['docker-content-digest'], image.digest);
      const tags = await app.inject({ method: 'GET', url: `/v2/${name}/tags/list` });
      assert.deepEqual((tags.json() as { name: string; tags: string[] }).tags, ['latest']);
      assert.equal((tags.json() as { name: string }).name, name);
    }
  });
});
