// The registry as its own token server, through inject: the challenge, GET /auth/token with Basic
// credentials or none, the OAuth2 form (password and refresh_token grants), scopes that are too
// narrow versus access the policy denies.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newTestStorage } from '../support/test-storage.js';
import { basicAuthorization, newAuthApp, PASSWORDS } from './auth-fixtures.js';
import { assertError, newApp, pushImage, type App } from './fixtures.js';

interface TokenAnswer {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
  scope?: string;
}

async function tokenApp(t: Parameters<typeof newApp>[0]): Promise<App> {
  const storage = await newTestStorage();
  await pushImage(await newApp(t, storage), 'team/app', { tag: '1' });
  return newAuthApp(t, { mode: 'token', storage });
}

function form(fields: Record<string, string>) {
  return { method: 'POST' as const, url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() };
}

/** The claims of a JWT, unverified: what the token server granted. */
function claims(token: string): { sub: string; access: { type: string; name: string; actions: string[] }[] } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}

describe('token authentication', () => {
  test('a request without a token is challenged with the realm, the service and the scope it needs', async (t) => {
    const app = await tokenApp(t);
    const pull = await app.inject({ method: 'GET', url: '/v2/team/app/manifests/1' });
    assertError(pull, 401, 'UNAUTHORIZED');
    assert.equal(pull.headers['www-authenticate'], 'Bearer realm="http://localhost:80/auth/token",service="wharf-test",scope="repository:team/app:pull"');
    const push = await app.inject({ method: 'PUT', url: '/v2/team/app/manifests/2', headers: { host: 'registry.example.com:5000' } });
    assert.equal(push.headers['www-authenticate'], 'Bearer realm="http://registry.example.com:5000/auth/token",service="wharf-test",scope="repository:team/app:pull,push"');
    const del = await app.inject({ method: 'DELETE', url: '/v2/team/app/manifests/1' });
    assert.match(String(del.headers['www-authenticate']), /scope="repository:team\/app:delete"$/);
    const catalog = await app.inject({ method: 'GET', url: '/v2/_catalog' });
    assert.match(String(catalog.headers['www-authenticate']), /scope="registry:catalog:\*"$/);
    const ping = await app.inject({ method: 'GET', url: '/v2/' });
    assert.equal(ping.headers['www-authenticate'], 'Bearer realm="http://localhost:80/auth/token",service="wharf-test"');
  });

  test('GET /auth/token grants the requested scopes the policy allows, and nothing else', async (t) => {
    const app = await tokenApp(t);
    const scopes = 'scope=repository:team/app:pull,push,delete&scope=repository:public/tool:pull&scope=repository:Bad..Name:pull&scope=nonsense';
    const reader = await app.inject({ method: 'GET', url: `/auth/token?service=wharf-test&${scopes}`, headers: { authorization: basicAuthorization('reader', PASSWORDS.reader) } });
    assert.equal(reader.statusCode, 200, reader.body);
    const answer = reader.json() as TokenAnswer;
    assert.equal(answer.token, answer.access_token);
    assert.equal(answer.expires_in, 300);
    assert.ok(Math.abs(Date.parse(answer.issued_at) - Date.now()) < 60_000);
    assert.equal(answer.refresh_token, undefined, 'no refresh token unless asked for offline access');
    assert.deepEqual(claims(answer.token), { ...claims(answer.token), sub: 'reader', access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }, { type: 'repository', name: 'public/tool', actions: ['pull'] }] });

    const anonymous = await app.inject({ method: 'GET', url: `/auth/token?service=wharf-test&${scopes}` });
    assert.deepEqual(claims((anonymous.json() as TokenAnswer).token).access, [{ type: 'repository', name: 'public/tool', actions: ['pull'] }]);
    assert.equal(claims((anonymous.json() as TokenAnswer).token).sub, '');

    const alice = await app.inject({ method: 'GET', url: '/auth/token?scope=repository:team/app:*', headers: { authorization: basicAuthorization('alice', PASSWORDS.alice) } });
    assert.deepEqual(claims((alice.json() as TokenAnswer).token).access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }]);
  });

  test('GET /auth/token with a wrong password is 401 and grants nothing', async (t) => {
    const app = await tokenApp(t);
    const res = await app.inject({ method: 'GET', url: '/auth/token?scope=repository:team/app:pull', headers: { authorization: basicAuthorization('alice', 'wrong') } });
    assertError(res, 401, 'UNAUTHORIZED');
    assert.doesNotMatch(res.body, /token/i);
  });

  test('a token that grants too little is challenged again; one whose user the policy denies gets 403', async (t) => {
    const app = await tokenApp(t);
    const tokenFor = async (user: 'alice' | 'reader', scope: string) =>
      ((await app.inject({ method: 'GET', url: `/auth/token?scope=${scope}`, headers: { authorization: basicAuthorization(user, PASSWORDS[user]) } })).json() as TokenAnswer).token;
    const narrow = await tokenFor('alice', 'repository:team/app:pull');
    assert.equal((await app.inject({ method: 'GET', url: '/v2/team/app/manifests/1', headers: { authorization: `Bearer ${narrow}` } })).statusCode, 200);
    const push = await app.inject({ method: 'POST', url: '/v2/team/app/blobs/uploads/', headers: { authorization: `Bearer ${narrow}` } });
    assertError(push, 401, 'UNAUTHORIZED');
    assert.match(String(push.headers['www-authenticate']), /scope="repository:team\/app:pull,push",error="insufficient_scope"$/);
    const other = await app.inject({ method: 'GET', url: '/v2/team/other/tags/list', headers: { authorization: `Bearer ${narrow}` } });
    assertError(other, 401, 'UNAUTHORIZED');
    const reader = await tokenFor('reader', 'repository:team/app:pull,push');
    assertError(await app.inject({ method: 'POST', url: '/v2/team/app/blobs/uploads/', headers: { authorization: `Bearer ${reader}` } }), 403, 'DENIED');
  });

  test('invalid tokens are challenged with error="invalid_token"', async (t) => {
    const app = await tokenApp(t);
    for (const token of ['garbage', 'a.b.c']) {
      const res = await app.inject({ method: 'GET', url: '/v2/', headers: { authorization: `Bearer ${token}` } });
      assertError(res, 401, 'UNAUTHORIZED');
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"$/);
    }
    // A registry in token mode takes no Basic credentials on its API: clients get tokens.
    const basic = await app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basicAuthorization('alice', PASSWORDS.alice) } });
    assertError(basic, 401, 'UNAUTHORIZED');
  });

  test('docker login: an offline token request returns a refresh token, which the OAuth2 form trades for access tokens', async (t) => {
    const app = await tokenApp(t);
    // What `docker login` sends.
    const login = await app.inject({ method: 'GET', url: '/auth/token?account=alice&client_id=docker&offline_token=true&service=wharf-test', headers: { authorization: basicAuthorization('alice', PASSWORDS.alice) } });
    assert.equal(login.statusCode, 200, login.body);
    const refresh = (login.json() as TokenAnswer).refresh_token!;
    assert.ok(refresh);
    assertError(await app.inject({ method: 'GET', url: '/v2/', headers: { authorization: `Bearer ${refresh}` } }), 401, 'UNAUTHORIZED');

    // What `docker push` sends afterwards.
    const res = await app.inject(form({ grant_type: 'refresh_token', refresh_token: refresh, client_id: 'docker', service: 'wharf-test', scope: 'repository:team/app:pull,push' }));
    assert.equal(res.statusCode, 200, res.body);
    const answer = res.json() as TokenAnswer & { token_type: string };
    assert.equal(answer.token_type, 'Bearer');
    assert.equal(answer.scope, 'repository:team/app:pull,push');
    assert.equal(answer.refresh_token, undefined);
    const upload = await app.inject({ method: 'POST', url: '/v2/team/app/blobs/uploads/', headers: { authorization: `Bearer ${answer.access_token}` } });
    assert.equal(upload.statusCode, 202, upload.body);

    const forged = await app.inject(form({ grant_type: 'refresh_token', refresh_token: `${refresh.slice(0, -4)}AAAA` }));
    assertError(forged, 401, 'UNAUTHORIZED');
  });

  test('the OAuth2 password grant; access_type=offline adds a refresh token; mistakes are named', async (t) => {
    const app = await tokenApp(t);
    const res = await app.inject(form({ grant_type: 'password', username: 'reader', password: PASSWORDS.reader, client_id: 'test', access_type: 'offline', scope: 'repository:team/app:pull repository:team/app:push' }));
    assert.equal(res.statusCode, 200, res.body);
    const answer = res.json() as TokenAnswer;
    assert.equal(answer.scope, 'repository:team/app:pull');
    assert.ok(answer.refresh_token);
    assertError(await app.inject(form({ grant_type: 'password', username: 'reader', password: 'wrong' })), 401, 'UNAUTHORIZED');
    assertError(await app.inject(form({ grant_type: 'client_credentials' })), 400, 'UNSUPPORTED');
    assertError(await app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/json' }, payload: '{}' }), 400, 'UNSUPPORTED');
  });

  test('the catalog scope is granted to users and to anonymous callers the policy lets pull something', async (t) => {
    const app = await tokenApp(t);
    const catalogScope = async (authorization?: string) =>
      claims(((await app.inject({ method: 'GET', url: '/auth/token?scope=registry:catalog:search&scope=registry:catalog:*', headers: authorization ? { authorization } : {} })).json() as TokenAnswer).token).access;
    assert.deepEqual(await catalogScope(basicAuthorization('writer', PASSWORDS.writer)), [{ type: 'registry', name: 'catalog', actions: ['search'] }, { type: 'registry', name: 'catalog', actions: ['*'] }]);
    assert.equal((await catalogScope()).length, 2, 'POLICY lets anonymous callers pull public/*');
    const strict = await newAuthApp(t, { mode: 'token', storage: await newTestStorage(), policy: null });
    const anonymous = await strict.inject({ method: 'GET', url: '/auth/token?scope=registry:catalog:*' });
    assert.deepEqual(claims((anonymous.json() as TokenAnswer).token).access, []);
  });
});

describe('token endpoint in other modes', () => {
  test('/auth/token does not exist without token authentication', async (t) => {
    const app = await newAuthApp(t, { mode: 'basic', storage: await newTestStorage() });
    assert.equal((await app.inject({ method: 'GET', url: '/auth/token' })).statusCode, 404);
  });
});
