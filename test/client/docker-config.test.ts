import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { DockerCredentials } from '../../shared/registry-client/docker-config.js';
import { dockerConfig } from './fixtures.js';

const base64 = (text: string) => Buffer.from(text).toString('base64');

test('reads auth, username/password and identitytoken entries under every key form', async (t) => {
  const path = await dockerConfig(t, {
    'https://index.docker.io/v1/': { auth: base64('hubuser:hub:pass') },
    'https://ghcr.io': { username: 'gh', password: 'secret' },
    'localhost:5000': { auth: base64('local:pw') },
    'registry.example.com/v2/': { identitytoken: 'refresh-me' },
    'empty.example.com': {},
  });
  const credentials = await DockerCredentials.load(path);
  assert.deepEqual(await credentials.get('docker.io'), { username: 'hubuser', password: 'hub:pass', identityToken: undefined, source: path });
  assert.deepEqual(await credentials.get('ghcr.io'), { username: 'gh', password: 'secret', identityToken: undefined, source: path });
  assert.deepEqual(await credentials.get('localhost:5000'), { username: 'local', password: 'pw', identityToken: undefined, source: path });
  assert.deepEqual(await credentials.get('registry.example.com'), { username: undefined, password: undefined, identityToken: 'refresh-me', source: path });
  assert.equal(await credentials.get('empty.example.com'), undefined);
  assert.equal(await credentials.get('localhost:5001'), undefined);
});

test('a missing config file means no credentials', async () => {
  const credentials = await DockerCredentials.load('/nonexistent/wharf/config.json');
  assert.equal(await credentials.get('docker.io'), undefined);
});

test('a config file that is not JSON is an error naming the file', async (t) => {
  const path = await dockerConfig(t, {});
  await writeFile(path, '{ not json');
  await assert.rejects(DockerCredentials.load(path), new RegExp(`${path} is not valid JSON`));
});
