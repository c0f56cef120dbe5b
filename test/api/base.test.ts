import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newApp } from './fixtures.js';

describe('GET /v2/', () => {
  test('GET /v2/ returns 200 with the registry/2.0 API version header', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'GET', url: '/v2/' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('GET /v2/ answers with a JSON body', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'GET', url: '/v2/' });
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.doesNotThrow(() => JSON.parse(res.body));
  });

  test('HEAD /v2/ returns 200 with the API version header', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'HEAD', url: '/v2/' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('an unknown path under /v2/ returns 404', async (t) => {
    const app = await newApp(t);
    const res = await app.inject({ method: 'GET', url: '/v2/foo/bar/nonsense/thing' });
    assert.equal(res.statusCode, 404);
  });
});
