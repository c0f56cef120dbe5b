import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeScopes } from '../../shared/registry-client/auth.js';
import { parseWwwAuthenticate } from '../../shared/registry-client/www-authenticate.js';

test('parses a Bearer challenge whose quoted scope holds commas', () => {
  assert.deepEqual(
    parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'),
    [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } }],
  );
});

test('parses a Basic challenge, lower-casing scheme and parameter names', () => {
  assert.deepEqual(parseWwwAuthenticate('BASIC Realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
});

test('parses several challenges in one header, as Node joins repeated headers', () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="a, b", Bearer realm="https://t/token", error=insufficient_scope'), [
    { scheme: 'basic', params: { realm: 'a, b' } },
    { scheme: 'bearer', params: { realm: 'https://t/token', error: 'insufficient_scope' } },
  ]);
});

test('unescapes quoted-pairs and tolerates spaces around "="', () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm = "say \\"hi\\"" , service=reg'), [
    { scheme: 'bearer', params: { realm: 'say "hi"', service: 'reg' } },
  ]);
});

test('a challenge without parameters, and garbage, do not throw', () => {
  assert.deepEqual(parseWwwAuthenticate('Negotiate'), [{ scheme: 'negotiate', params: {} }]);
  assert.doesNotThrow(() => parseWwwAuthenticate('="x" , = , "unterminated'));
});

test('scopes a challenge asks for are added only when the request\'s own do not cover them', () => {
  assert.deepEqual(mergeScopes(['repository:a:pull,push'], ['repository:a:pull']), ['repository:a:pull,push']);
  assert.deepEqual(mergeScopes(['repository:a:pull'], ['repository:a:pull,push']), ['repository:a:pull', 'repository:a:pull,push']);
  assert.deepEqual(mergeScopes(['repository:a:pull'], ['repository:b:pull']), ['repository:a:pull', 'repository:b:pull']);
});
