import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheKey } from '../../builder/cache/cache-key.js';

test('cache keys are framed: different splits of the same text give different keys', () => {
  assert.notEqual(cacheKey('ab', 'c'), cacheKey('a', 'bc'));
  assert.notEqual(cacheKey(['a', 'b']), cacheKey('a', 'b'));
  assert.notEqual(cacheKey(null), cacheKey(''));
  assert.notEqual(cacheKey(1), cacheKey('1'));
  assert.notEqual(cacheKey(true), cacheKey('t'));
});

test('cache keys are stable digests of their parts', () => {
  assert.equal(cacheKey('COPY', ['a.txt'], 0o644), cacheKey('COPY', ['a.txt'], 0o644));
  assert.match(cacheKey('x'), /^sha256:[0-9a-f]{64}$/);
});
