import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseImageReference } from '../../shared/reference.js';
import { AuthenticationError } from '../../shared/registry-client/auth.js';
import { RegistryClient } from '../../shared/registry-client/client.js';
import { CredentialHelperError } from '../../shared/registry-client/credential-helper.js';
import { DockerCredentials } from '../../shared/registry-client/docker-config.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { pullImage } from '../../shared/registry-client/remote-image.js';
import { writeCredentialHelper, type TestCredentialHelper } from '../support/credential-helper.js';
import { dockerConfig, requireBasic, startRegistry, temporaryStore, testImage, type TestRegistry } from './fixtures.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const USER = 'helen';
const PASSWORD = 'from-the-helper';
const base64 = (text: string) => Buffer.from(text).toString('base64');

// The helpers are real executables on PATH, as docker-credential-pass or -secretservice would be.
let binDir: string;
const savedPath = process.env.PATH;
before(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'wharf-helpers-'));
  process.env.PATH = `${binDir}${delimiter}${savedPath}`;
});
after(async () => {
  process.env.PATH = savedPath;
  await rm(binDir, { recursive: true, force: true });
});

/** `docker-credential-NAME` knowing the test user for `registry` (and nothing else). */
function knowingHelper(name: string, registry: TestRegistry, password = PASSWORD): Promise<TestCredentialHelper> {
  return writeCredentialHelper(binDir, name, { credentials: { [registry.host]: { username: USER, secret: password } } });
}

async function basicRegistry(t: Parameters<typeof startRegistry>[0]): Promise<TestRegistry> {
  return startRegistry(t, (app) => requireBasic(app, USER, PASSWORD));
}

/** Pushes a small image with `client` and pulls it back with the same client. */
async function pushAndPull(t: Parameters<typeof startRegistry>[0], client: RegistryClient, registry: TestRegistry, name: string): Promise<void> {
  const image = await testImage({ layers: [{ [name]: 'content' }], label: name });
  const ref = parseImageReference(`${registry.host}/helpers/${name}:1`);
  await pushImage(client, image, ref);
  assert.equal((await pullImage(client, ref, AMD64, await temporaryStore(t))).digest, image.digest);
}

test('credHelpers: the registry\'s helper is asked once, with its host, for a whole push and pull', async (t) => {
  const registry = await basicRegistry(t);
  const helper = await knowingHelper('perhost', registry);
  const config = await dockerConfig(t, {}, { credHelpers: { [registry.host]: 'perhost' } });
  await pushAndPull(t, new RegistryClient({ dockerConfigPath: config }), registry, 'perhost');
  assert.deepEqual(await helper.calls(), [registry.host]);
});

test('credHelpers wins over credsStore, and a registry with a helper ignores its auths entry', async (t) => {
  const registry = await basicRegistry(t);
  const helper = await knowingHelper('winner', registry);
  const store = await writeCredentialHelper(binDir, 'loser', { fails: 'the default store must not be asked' });
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:stale-password`) } }, { credsStore: 'loser', credHelpers: { [registry.host]: 'winner' } });
  await pushAndPull(t, new RegistryClient({ dockerConfigPath: config }), registry, 'winner');
  assert.deepEqual(await helper.calls(), [registry.host]);
  assert.deepEqual(await store.calls(), []);
});

test('credsStore serves every registry without a helper of its own, over a stale auths entry', async (t) => {
  const registry = await basicRegistry(t);
  const helper = await knowingHelper('store', registry);
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:stale-password`) } }, { credsStore: 'store', credHelpers: { 'other.example.com': 'nobody' } });
  await pushAndPull(t, new RegistryClient({ dockerConfigPath: config }), registry, 'store');
  assert.deepEqual(await helper.calls(), [registry.host]);
});

test('auths apply to a registry no helper is configured for', async (t) => {
  const registry = await basicRegistry(t);
  const other = await writeCredentialHelper(binDir, 'elsewhere', { fails: 'not for this registry' });
  const config = await dockerConfig(t, { [registry.host]: { auth: base64(`${USER}:${PASSWORD}`) } }, { credHelpers: { 'other.example.com': 'elsewhere' } });
  await pushAndPull(t, new RegistryClient({ dockerConfigPath: config }), registry, 'auths');
  assert.deepEqual(await other.calls(), []);
});

test('a helper is not run for a registry that never asks for credentials', async (t) => {
  const open = await startRegistry(t);
  const helper = await writeCredentialHelper(binDir, 'unasked', { fails: 'must not run' });
  const config = await dockerConfig(t, {}, { credsStore: 'unasked' });
  await pushAndPull(t, new RegistryClient({ dockerConfigPath: config }), open, 'open');
  assert.deepEqual(await helper.calls(), []);
});

test('a helper with no credentials for the registry means anonymous, and the refusal names the helper', async (t) => {
  const registry = await basicRegistry(t);
  const helper = await writeCredentialHelper(binDir, 'empty', { credentials: {} });
  const config = await dockerConfig(t, {}, { credHelpers: { [registry.host]: 'empty' } });
  const ref = parseImageReference(`${registry.host}/helpers/none:1`);
  await assert.rejects(pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.message, `${registry.host} requires authentication and credential helper docker-credential-empty has no usable credentials for it (docker login ${registry.host})`);
    return true;
  });
  assert.deepEqual(await helper.calls(), [registry.host]);
});

test('wrong credentials from a helper are refused naming the helper', async (t) => {
  const registry = await basicRegistry(t);
  await knowingHelper('wrong', registry, 'not-the-password');
  const config = await dockerConfig(t, {}, { credsStore: 'wrong' });
  const ref = parseImageReference(`${registry.host}/helpers/wrong:1`);
  await assert.rejects(
    pullImage(new RegistryClient({ dockerConfigPath: config }), ref, AMD64, await temporaryStore(t)),
    (error: unknown) => error instanceof AuthenticationError && error.message.startsWith(`${registry.host} refused the credentials from credential helper docker-credential-wrong: GET `),
  );
});

test('a failing or missing helper is one error naming it', async (t) => {
  const registry = await basicRegistry(t);
  await writeCredentialHelper(binDir, 'locked', { fails: 'error: the keyring is locked' });
  const ref = parseImageReference(`${registry.host}/helpers/failing:1`);
  const locked = await dockerConfig(t, {}, { credsStore: 'locked' });
  await assert.rejects(pullImage(new RegistryClient({ dockerConfigPath: locked }), ref, AMD64, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof CredentialHelperError);
    assert.equal(error.message, `credential helper docker-credential-locked failed to get credentials for ${registry.host}: error: the keyring is locked`);
    return true;
  });
  const missing = await dockerConfig(t, {}, { credHelpers: { [registry.host]: 'not-installed' } });
  await assert.rejects(
    pullImage(new RegistryClient({ dockerConfigPath: missing }), ref, AMD64, await temporaryStore(t)),
    new CredentialHelperError('credential helper docker-credential-not-installed is not installed (no docker-credential-not-installed on PATH)'),
  );
});

test('Docker Hub is asked for under https://index.docker.io/v1/; a <token> user name means an identity token', async (t) => {
  const helper = await writeCredentialHelper(binDir, 'hub', { credentials: { 'https://index.docker.io/v1/': { username: '<token>', secret: 'refresh-me' } } });
  const config = await dockerConfig(t, {}, { credHelpers: { 'https://index.docker.io/v1/': 'hub' } });
  const credentials = await DockerCredentials.load(config);
  assert.deepEqual(await credentials.get('docker.io'), { identityToken: 'refresh-me', source: 'credential helper docker-credential-hub' });
  assert.deepEqual(await helper.calls(), ['https://index.docker.io/v1/']);
});
