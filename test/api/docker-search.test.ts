import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getJson, newApp, pushImage } from './fixtures.js';

interface DockerSearch {
  num_results: number;
  num_pages: number;
  page: number;
  page_size: number;
  query: string;
  results: { name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[];
}

describe('docker search: GET /v1/_ping and /v1/search', () => {
  test('/v1/_ping answers JSON the docker engine reads as a standalone registry', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'GET', url: '/v1/_ping' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-docker-registry-standalone'], 'true');
    assert.deepEqual(res.json(), { standalone: true });
    assert.equal((await app.inject({ method: 'HEAD', url: '/v1/_ping' })).statusCode, 200);
  });

  test('/v1/search answers in Docker Hub format, the description from the image label', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'tools/busybox', { tag: 'latest', labels: { 'org.opencontainers.image.description': 'Small shell tools' } });
    await pushImage(app, 'other/app', { tag: 'latest' });
    const { res, body } = await getJson<DockerSearch>(app, '/v1/search?q=Busy&n=25');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(body, {
      num_results: 1,
      num_pages: 1,
      page: 1,
      page_size: 25,
      query: 'Busy',
      results: [{ name: 'tools/busybox', description: 'Small shell tools', star_count: 0, is_official: false, is_automated: false }],
    });
    assert.deepEqual((await getJson<DockerSearch>(app, '/v1/search?q=shell')).body?.results.map((r) => r.name), ['tools/busybox']);
  });

  test('n and page paginate as Docker Hub does', async (t) => {
    const app = await newApp(t);
    for (const name of ['lib/a', 'lib/b', 'lib/c']) await pushImage(app, name, { tag: 'latest' });
    const first = (await getJson<DockerSearch>(app, '/v1/search?q=lib&n=2')).body!;
    assert.deepEqual([first.num_results, first.num_pages, first.page, first.page_size], [3, 2, 1, 2]);
    assert.deepEqual(first.results.map((r) => r.name), ['lib/a', 'lib/b']);
    const second = (await getJson<DockerSearch>(app, '/v1/search?q=lib&n=2&page=2')).body!;
    assert.deepEqual(second.results.map((r) => r.name), ['lib/c']);
  });

  test('a malformed query answers 400 with a v1 error body', async (t) => {
    const app = await newApp(t);
    for (const query of ['q=a*', 'q=%22', 'q=x&n=0', 'q=x&n=101', 'q=x&n=abc', 'q=x&page=0', `q=${'x'.repeat(300)}`]) {
      const res = await app.inject({ method: 'GET', url: `/v1/search?${query}` });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      const body = res.json() as { error?: unknown };
      assert.equal(typeof body.error, 'string', res.body);
    }
    const unknown = await app.inject({ method: 'GET', url: '/v1/repositories/x/images' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(typeof (unknown.json() as { error?: unknown }).error, 'string');
  });
});
