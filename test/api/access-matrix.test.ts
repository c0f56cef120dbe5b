// Who may do what, through fastify inject, in both authentication modes: anonymous callers, a user
// who may do everything (alice), a read-only user (reader) and one who may write only drop/* (writer),
// each trying pull, push, delete, a cross-repository mount, the catalog and search.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { newTestStorage } from '../support/test-storage.js';
import { Caller, newAuthApp, type User } from './auth-fixtures.js';
import { assertError, newApp, pushBlob, pushImage, randomBlob, type Response } from './fixtures.js';

type Outcome = 'ok' | 401 | 403;

/** The storage of a registry holding team/app:1 and public/tool:1, pushed without authentication. */
async function populatedStorage(t: Parameters<typeof newApp>[0]) {
  const storage = await newTestStorage();
  const open = await newApp(t, storage);
  const image = await pushImage(open, 'team/app', { tag: '1' });
  await pushImage(open, 'public/tool', { tag: '1' });
  return { storage, open, layer: image.layers[0]!.digest };
}

/** Asserts a response is the expected outcome: a success status, or the challenge / denial. */
function expectOutcome(res: Response, expected: Outcome, success: number, mode: 'basic' | 'token', what: string): void {
  if (expected === 'ok') {
    assert.equal(res.statusCode, success, `${what}: ${res.body}`);
  } else if (expected === 401) {
    assertError(res, 401, 'UNAUTHORIZED');
    assert.match(String(res.headers['www-authenticate']), mode === 'basic' ? /^Basic realm="wharf-test"/ : /^Bearer realm="http:\/\/[^"]+\/auth\/token",service="wharf-test"/, what);
  } else {
    assertError(res, 403, 'DENIED');
  }
}

const CALLERS: readonly (User | undefined)[] = [undefined, 'alice', 'reader', 'writer'];

for (const mode of ['basic', 'token'] as const) {
  describe(`access matrix, ${mode} mode`, () => {
    async function setUp(t: Parameters<typeof newApp>[0]) {
      const { storage, open, layer } = await populatedStorage(t);
      const app = await newAuthApp(t, { mode, storage });
      return { app, open, layer, callers: CALLERS.map((user) => new Caller(app, mode, user)) };
    }

    test('pull: users who may pull read the manifest; anonymous callers only public/*', async (t) => {
      const { callers } = await setUp(t);
      const expected: Record<string, Outcome> = { anonymous: 401, alice: 'ok', reader: 'ok', writer: 403 };
      for (const caller of callers) {
        const res = await caller.send({ method: 'GET', url: '/v2/team/app/manifests/1', scopes: ['repository:team/app:pull'] });
        expectOutcome(res, expected[caller.name]!, 200, mode, `${caller.name} pulls team/app`);
        const pub = await caller.send({ method: 'GET', url: '/v2/public/tool/manifests/1', scopes: ['repository:public/tool:pull'] });
        expectOutcome(pub, caller.name === 'writer' ? 403 : 'ok', 200, mode, `${caller.name} pulls public/tool`);
      }
    });

    test('push: only users with push may upload a blob', async (t) => {
      const { callers } = await setUp(t);
      const expected: Record<string, Outcome> = { anonymous: 401, alice: 'ok', reader: 403, writer: 403 };
      for (const caller of callers) {
        const blob = randomBlob();
        const res = await caller.send({
          method: 'POST',
          url: `/v2/team/app/blobs/uploads/?digest=${digestOf(blob)}`,
          scopes: ['repository:team/app:pull,push'],
          payload: blob,
          headers: { 'content-type': 'application/octet-stream' },
        });
        expectOutcome(res, expected[caller.name]!, 201, mode, `${caller.name} pushes to team/app`);
      }
      const writer = callers.find((caller) => caller.name === 'writer')!;
      const blob = randomBlob();
      const res = await writer.send({ method: 'POST', url: `/v2/drop/box/blobs/uploads/?digest=${digestOf(blob)}`, scopes: ['repository:drop/box:pull,push'], payload: blob, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(res.statusCode, 201, `writer pushes to drop/box: ${res.body}`);
    });

    test('delete: only users with delete may delete a blob', async (t) => {
      const { callers, open } = await setUp(t);
      const expected: Record<string, Outcome> = { anonymous: 401, alice: 'ok', reader: 403, writer: 403 };
      const { digest } = await pushBlob(open, 'team/app', randomBlob());
      for (const caller of [...callers].reverse()) {
        const res = await caller.send({ method: 'DELETE', url: `/v2/team/app/blobs/${digest}`, scopes: ['repository:team/app:delete'] });
        expectOutcome(res, expected[caller.name]!, 202, mode, `${caller.name} deletes a blob`);
      }
    });

    test('mount: needs push on the target and pull on the source, else it is an upload', async (t) => {
      const { callers, layer } = await setUp(t);
      const mount = (caller: Caller, target: string) =>
        caller.send({ method: 'POST', url: `/v2/${target}/blobs/uploads/?mount=${layer}&from=team/app`, scopes: [`repository:${target}:pull,push`, 'repository:team/app:pull'] });
      const [anonymous, alice, reader, writer] = callers as [Caller, Caller, Caller, Caller];
      expectOutcome(await mount(anonymous, 'drop/box'), 401, 0, mode, 'anonymous mounts');
      expectOutcome(await mount(reader, 'drop/box'), 403, 0, mode, 'reader mounts');
      const mounted = await mount(alice, 'drop/alice');
      assert.equal(mounted.statusCode, 201, mounted.body);
      assert.equal(mounted.headers['docker-content-digest'], layer);
      // writer may not pull team/app: no mount, but an upload session, as distribution answers.
      const fallback = await mount(writer, 'drop/writer');
      assert.equal(fallback.statusCode, 202, fallback.body);
      assert.match(String(fallback.headers.location), /^\/v2\/drop\/writer\/blobs\/uploads\/[^/]+$/);
      const head = await writer.send({ method: 'HEAD', url: `/v2/drop/writer/blobs/${layer}`, scopes: ['repository:drop/writer:pull'] });
      assert.equal(head.statusCode, 404, 'the blob was not linked into drop/writer');
      // Without `from` the blob could come from any repository, readable or not: an upload, even for alice.
      const anywhere = await alice.send({ method: 'POST', url: `/v2/drop/any/blobs/uploads/?mount=${layer}`, scopes: ['repository:drop/any:pull,push'] });
      assert.equal(anywhere.statusCode, 202, anywhere.body);
    });

    test('catalog and search show each caller only what it may pull', async (t) => {
      const { callers } = await setUp(t);
      const visible: Record<string, string[]> = { anonymous: ['public/tool'], alice: ['public/tool', 'team/app'], reader: ['public/tool', 'team/app'], writer: [] };
      for (const caller of callers) {
        const catalog = await caller.send({ method: 'GET', url: '/v2/_catalog', scopes: ['registry:catalog:*'] });
        assert.equal(catalog.statusCode, 200, `${caller.name}: ${catalog.body}`);
        assert.deepEqual((catalog.json() as { repositories: string[] }).repositories, visible[caller.name], `${caller.name}'s catalog`);
        // docker search asks for registry:catalog:search.
        const search = await caller.send({ method: 'GET', url: '/v1/search?q=', scopes: ['registry:catalog:search'] });
        assert.equal(search.statusCode, 200, `${caller.name}: ${search.body}`);
        assert.deepEqual((search.json() as { results: { name: string }[] }).results.map((r) => r.name).sort(), visible[caller.name], `${caller.name}'s docker search`);
        const api = await caller.send({ method: 'GET', url: '/api/v1/search', scopes: ['registry:catalog:*'] });
        assert.deepEqual((api.json() as { results: { name: string }[] }).results.map((r) => r.name).sort(), visible[caller.name], `${caller.name}'s search API`);
        const summary = await caller.send({ method: 'GET', url: '/api/v1/repositories/team/app', scopes: ['registry:catalog:*'] });
        if (visible[caller.name]!.includes('team/app')) assert.equal(summary.statusCode, 200, summary.body);
        else assertError(summary, 404, 'NAME_UNKNOWN');
      }
    });

    test('GET /v2/ needs credentials (how docker login checks them); /v1/_ping does not', async (t) => {
      const { app, callers } = await setUp(t);
      const res = await app.inject({ method: 'GET', url: '/v2/' });
      expectOutcome(res, 401, 200, mode, 'anonymous GET /v2/');
      assert.equal(res.headers['docker-distribution-api-version'], 'registry/2.0');
      expectOutcome(await callers[1]!.send({ method: 'GET', url: '/v2/', scopes: [] }), 'ok', 200, mode, 'alice GET /v2/');
      assert.equal((await app.inject({ method: 'GET', url: '/v1/_ping' })).statusCode, 200);
    });
  });
}

describe('access without a policy file', () => {
  for (const mode of ['basic', 'token'] as const) {
    test(`${mode} mode: authenticated users may do everything, anonymous callers nothing`, async (t) => {
      const { storage, layer } = await populatedStorage(t);
      const app = await newAuthApp(t, { mode, storage, policy: null });
      const reader = new Caller(app, mode, 'reader');
      const anonymous = new Caller(app, mode, undefined);
      const deleted = await reader.send({ method: 'DELETE', url: `/v2/public/tool/blobs/${layer}`, scopes: ['repository:public/tool:delete'] });
      assert.equal(deleted.statusCode, 404, 'reader may delete (the layer is not in public/tool)');
      const mounted = await reader.send({ method: 'POST', url: `/v2/public/tool/blobs/uploads/?mount=${layer}&from=team/app`, scopes: ['repository:public/tool:pull,push', 'repository:team/app:pull'] });
      assert.equal(mounted.statusCode, 201, mounted.body);
      expectOutcome(await anonymous.send({ method: 'GET', url: '/v2/public/tool/manifests/1', scopes: ['repository:public/tool:pull'] }), 401, 200, mode, 'anonymous pull');
      expectOutcome(await anonymous.send({ method: 'GET', url: '/v2/_catalog', scopes: ['registry:catalog:*'] }), 401, 200, mode, 'anonymous catalog');
    });
  }
});
