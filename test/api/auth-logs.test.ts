// The request log never shows credentials: no Authorization header, password, token or refresh
// token, and no query string of a token request.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { newTestStorage } from '../support/test-storage.js';
import { basicAuthorization, newAuthApp, PASSWORDS } from './auth-fixtures.js';

for (const mode of ['basic', 'token'] as const) {
  test(`${mode} mode: logs hold no passwords, tokens or Authorization headers`, async (t) => {
    const stream = new PassThrough();
    let logged = '';
    stream.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const app = await newAuthApp(t, { mode, storage: await newTestStorage(), logStream: stream });
    const secrets: string[] = [PASSWORDS.alice, basicAuthorization('alice', PASSWORDS.alice).slice(6), 'wrong-password-xyz'];

    await app.inject({ method: 'GET', url: '/v2/', headers: { authorization: basicAuthorization('alice', PASSWORDS.alice) } });
    await app.inject({ method: 'GET', url: '/v2/team/app/tags/list', headers: { authorization: basicAuthorization('alice', 'wrong-password-xyz') } });
    if (mode === 'token') {
      const login = await app.inject({ method: 'GET', url: '/auth/token?account=alice&offline_token=true&service=wharf-test&scope=repository:team/app:pull', headers: { authorization: basicAuthorization('alice', PASSWORDS.alice) } });
      const { token, refresh_token: refresh } = login.json() as { token: string; refresh_token: string };
      secrets.push(token, refresh, token.split('.')[2]!, refresh.split('.')[2]!);
      await app.inject({ method: 'GET', url: '/v2/team/app/tags/list', headers: { authorization: `Bearer ${token}` } });
      await app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=refresh_token&refresh_token=${refresh}` });
      await app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=password&username=alice&password=${PASSWORDS.alice}` });
      // A client that puts a password in the query must not see it logged either.
      await app.inject({ method: 'GET', url: `/auth/token?password=${PASSWORDS.alice}&account=alice` });
    }
    await new Promise((resolve) => setImmediate(resolve));

    const lines = logged.trim().split('\n').map((line) => JSON.parse(line) as { url?: string; msg: string });
    assert.ok(lines.filter((line) => line.msg === 'request').length >= (mode === 'token' ? 7 : 2), logged);
    for (const secret of secrets) assert.ok(!logged.includes(secret), `the log holds a secret: ${secret.slice(0, 12)}…`);
    assert.doesNotMatch(logged, /authorization|basic |bearer /i);
    if (mode === 'token') assert.ok(lines.some((line) => line.url === '/auth/token'), 'token requests are logged by path');
    assert.ok(lines.some((line) => line.url === '/v2/team/app/tags/list'), 'other requests keep their URL');
  });
}
