// Failed logins per user and per address, with a clock the test moves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle, retryAfterOf } from '../../registry/auth/login-throttle.js';
import { RegistryError } from '../../registry/errors.js';

function throttle() {
  let now = 1_000_000;
  const limits = { perUser: 3, perAddress: 5, windowMs: 60_000 };
  return { throttle: new LoginThrottle(limits, () => now), advance: (ms: number) => (now += ms) };
}

function refusedFor(run: () => void): number {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof RegistryError && error.code === 'TOOMANYREQUESTS' && error.status === 429, String(error));
    return retryAfterOf(error)!;
  }
  return assert.fail('not refused');
}

test('a user who failed too often within the window is refused until the oldest failure leaves it', () => {
  const { throttle: logins, advance } = throttle();
  for (let i = 0; i < 3; i++) {
    logins.check('alice', `10.0.0.${i}`);
    logins.failed('alice', `10.0.0.${i}`);
    advance(10_000);
  }
  assert.equal(refusedFor(() => logins.check('alice', '10.0.0.9')), 30, 'from any address; the first failure leaves the window in 30 s');
  logins.check('bob', '10.0.0.9');
  advance(30_000);
  logins.check('alice', '10.0.0.9');
});

test('an address that failed too often is refused whichever user it names', () => {
  const { throttle: logins } = throttle();
  for (let i = 0; i < 5; i++) logins.failed(`user${i}`, '192.0.2.1');
  assert.equal(refusedFor(() => logins.check('newcomer', '192.0.2.1')), 60);
  assert.equal(refusedFor(() => logins.check(undefined, '192.0.2.1')), 60, 'a refresh token from there too');
  logins.check('newcomer', '192.0.2.2');
});

test("a successful login clears its user's failures", () => {
  const { throttle: logins } = throttle();
  logins.failed('alice', '10.0.0.1');
  logins.failed('alice', '10.0.0.1');
  logins.succeeded('alice');
  logins.failed('alice', '10.0.0.1');
  logins.failed('alice', '10.0.0.1');
  logins.check('alice', '10.0.0.2');
});
