// Repeated failed logins are answered 429 TOOMANYREQUESTS with Retry-After, per user and per
// address, in basic mode and at the token endpoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_THROTTLE_LIMITS } from '../../registry/auth/login-throttle.js';
import { newTestStorage } from '../support/test-storage.js';
import { basicAuthorization, newAuthApp, PASSWORDS } from './auth-fixtures.js';
import { assertError, type App } from './fixtures.js';

const PER_USER = DEFAULT_THROTTLE_LIMITS.perUser;

function ping(app: App, user: string, password: string, remoteAddress: string) {
  return app.inject({ method: 'GET', url: '/v2/', remoteAddress, headers: { authorization: basicAuthorization(user, password) } });
}

test('basic mode: a user who failed too often gets 429 with Retry-After, even with the right password', async (t) => {
  const app = await newAuthApp(t, { mode: 'basic', storage: await newTestStorage() });
  for (let i = 0; i < PER_USER; i++) assertError(await ping(app, 'alice', `guess-${i}`, `198.51.100.${i}`), 401, 'UNAUTHORIZED');
  const refused = await ping(app, 'alice', PASSWORDS.alice, '198.51.100.99');
  assertError(refused, 429, 'TOOMANYREQUESTS');
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']}`);
  assert.equal(refused.headers['www-authenticate'], undefined);
  // Other users, from another address, are not affected.
  assert.equal((await ping(app, 'reader', PASSWORDS.reader, '198.51.100.99')).statusCode, 200);
});

test('basic mode: an address that failed too often gets 429 whichever user it names', async (t) => {
  const app = await newAuthApp(t, { mode: 'basic', storage: await newTestStorage(), throttle: { ...DEFAULT_THROTTLE_LIMITS, perAddress: 4 } });
  for (let i = 0; i < 4; i++) assertError(await ping(app, `user${i}`, 'guess', '203.0.113.7'), 401, 'UNAUTHORIZED');
  assertError(await ping(app, 'reader', PASSWORDS.reader, '203.0.113.7'), 429, 'TOOMANYREQUESTS');
  assert.equal((await ping(app, 'reader', PASSWORDS.reader, '203.0.113.8')).statusCode, 200);
});

test('token mode: the token endpoint throttles failed passwords and bad refresh tokens', async (t) => {
  const app = await newAuthApp(t, { mode: 'token', storage: await newTestStorage(), throttle: { ...DEFAULT_THROTTLE_LIMITS, perAddress: PER_USER + 2 } });
  const token = (authorization: string, remoteAddress: string) => app.inject({ method: 'GET', url: '/auth/token?scope=repository:team/app:pull', remoteAddress, headers: { authorization } });
  for (let i = 0; i < PER_USER; i++) assertError(await token(basicAuthorization('alice', 'guess'), '192.0.2.1'), 401, 'UNAUTHORIZED');
  const refused = await token(basicAuthorization('alice', PASSWORDS.alice), '192.0.2.2');
  assertError(refused, 429, 'TOOMANYREQUESTS');
  assert.ok(Number(refused.headers['retry-after']) > 0);

  const refresh = () =>
    app.inject({ method: 'POST', url: '/auth/token', remoteAddress: '192.0.2.1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=refresh_token&refresh_token=forged' });
  assertError(await refresh(), 401, 'UNAUTHORIZED');
  assertError(await refresh(), 401, 'UNAUTHORIZED');
  assertError(await refresh(), 429, 'TOOMANYREQUESTS');
});
