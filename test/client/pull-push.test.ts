import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaType } from '../../shared/media-types.js';
import { PlatformNotFoundError } from '../../shared/platform.js';
import { parseImageReference } from '../../shared/reference.js';
import { RegistryClient, type BlobUploadOutcome } from '../../shared/registry-client/client.js';
import { pushImage } from '../../shared/registry-client/push.js';
import { RegistryResponseError } from '../../shared/registry-client/registry-error.js';
import { pullImage, pullManifest } from '../../shared/registry-client/remote-image.js';
import { bytesOf, requestsMatching, startRegistry, temporaryStore, testImage } from './fixtures.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

test('an image pushed by tag pulls back identical into a fresh store', async (t) => {
  const registry = await startRegistry(t);
  const image = await testImage({ layers: [{ 'etc/os-release': 'ID=wharf\n' }, { 'app/main.js': 'console.log(1)\n' }] });
  const ref = parseImageReference(`${registry.host}/team/app:v1`);

  assert.equal(await pushImage(new RegistryClient(), image, ref), image.digest);

  const store = await temporaryStore(t);
  const pulled = await pullImage(new RegistryClient(), ref, AMD64, store);
  assert.equal(pulled.digest, image.digest);
  assert.equal(pulled.mediaType, MediaType.OciManifest);
  assert.deepEqual(pulled.rawManifest, image.rawManifest);
  assert.deepEqual(pulled.rawConfig, image.rawConfig);
  assert.deepEqual(pulled.config, image.config);
  assert.deepEqual(pulled.layers.map((l) => [l.descriptor, l.diffId]), image.layers.map((l) => [l.descriptor, l.diffId]));
  for (const [i, layer] of pulled.layers.entries()) {
    assert.deepEqual(await bytesOf(await layer.open()), await bytesOf(await image.layers[i]!.open()));
    assert.ok(await store.has(layer.descriptor.digest));
  }
  assert.ok(await store.has(image.digest), 'the manifest is kept in the store too');
});

test('a second pull into the same store downloads no blob, and a pinned digest needs no request', async (t) => {
  const registry = await startRegistry(t);
  const image = await testImage({ layers: [{ a: 'a' }, { b: 'b' }] });
  const ref = parseImageReference(`${registry.host}/cache/me:latest`);
  await pushImage(new RegistryClient(), image, ref);
  const store = await temporaryStore(t);

  let from = registry.requests.length;
  await pullImage(new RegistryClient(), ref, AMD64, store);
  assert.equal(requestsMatching(registry, /^GET \/v2\/cache\/me\/blobs\//, from).length, 3, 'config and two layers');

  from = registry.requests.length;
  const again = await pullImage(new RegistryClient(), ref, AMD64, store);
  assert.equal(again.digest, image.digest);
  assert.deepEqual(requestsMatching(registry, /\/blobs\//, from), []);
  assert.deepEqual(requestsMatching(registry, /manifests/, from), ['GET /v2/cache/me/manifests/latest'], 'the tag is resolved again');

  from = registry.requests.length;
  await pullImage(new RegistryClient(), parseImageReference(`${registry.host}/cache/me@${image.digest}`), AMD64, store);
  assert.deepEqual(registry.requests.slice(from), []);
});

test('pulling an index picks the platform and downloads only that image', async (t) => {
  const registry = await startRegistry(t);
  const client = new RegistryClient();
  const shared = { 'etc/hostname': 'multi\n' };
  const amd = await testImage({ layers: [shared, { arch: 'amd64' }], label: 'amd64' });
  const arm = await testImage({ layers: [shared, { arch: 'arm64' }], platform: ARM64, label: 'arm64' });
  const repo = parseImageReference(`${registry.host}/multi/app`);
  await pushImage(client, amd, parseImageReference(`${registry.host}/multi/app@${amd.digest}`));
  await pushImage(client, arm, parseImageReference(`${registry.host}/multi/app@${arm.digest}`));
  const indexBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { mediaType: MediaType.OciManifest, digest: amd.digest, size: amd.rawManifest.length, platform: AMD64 },
      { mediaType: MediaType.OciManifest, digest: arm.digest, size: arm.rawManifest.length, platform: ARM64 },
    ],
  }));
  const indexDigest = await client.putManifest(repo, 'latest', indexBytes, MediaType.OciIndex);

  const store = await temporaryStore(t);
  const from = registry.requests.length;
  const pulled = await pullImage(new RegistryClient(), repo, { os: 'linux', architecture: 'arm64' }, store);
  assert.equal(pulled.digest, arm.digest);
  assert.equal(pulled.config.architecture, 'arm64');
  const fetched = requestsMatching(registry, /^GET .*\/blobs\//, from).map((line) => line.split('/blobs/')[1]);
  assert.deepEqual(fetched.sort(), [arm.manifest.config.digest, ...arm.layers.map((l) => l.descriptor.digest)].sort());

  const listed = await pullManifest(new RegistryClient(), repo, store);
  if (listed.kind !== 'index') assert.fail(`expected an index, got ${listed.kind}`);
  assert.equal(listed.index.digest, indexDigest);
  assert.deepEqual(listed.index.rawIndex, indexBytes);
  assert.deepEqual(listed.index.index.manifests.map((m) => m.platform?.architecture), ['amd64', 'arm64']);
  const amdFromIndex = await listed.index.image(listed.index.index.manifests[0]!);
  assert.deepEqual(amdFromIndex.rawConfig, amd.rawConfig);
});

test('a platform the index lacks fails with the platforms it has', async (t) => {
  const registry = await startRegistry(t);
  const client = new RegistryClient();
  const amd = await testImage({ layers: [{ a: '1' }] });
  const repo = parseImageReference(`${registry.host}/only/amd`);
  await pushImage(client, amd, parseImageReference(`${registry.host}/only/amd@${amd.digest}`));
  await client.putManifest(repo, 'latest', Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [{ mediaType: MediaType.OciManifest, digest: amd.digest, size: amd.rawManifest.length, platform: AMD64 }],
  })), MediaType.OciIndex);

  const from = registry.requests.length;
  await assert.rejects(pullImage(client, repo, { os: 'linux', architecture: 'riscv64' }, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof PlatformNotFoundError);
    assert.equal(error.message, `${registry.host}/only/amd:latest has no image for linux/riscv64 (available: linux/amd64)`);
    return true;
  });
  assert.deepEqual(requestsMatching(registry, /\/blobs\//, from), []);
});

test('a single-platform image for another platform is refused after fetching only its config', async (t) => {
  const registry = await startRegistry(t);
  const image = await testImage({ layers: [{ a: '1' }] });
  const ref = parseImageReference(`${registry.host}/amd/only:1`);
  await pushImage(new RegistryClient(), image, ref);
  const from = registry.requests.length;
  await assert.rejects(pullImage(new RegistryClient(), ref, ARM64, await temporaryStore(t)), /amd\/only:1 is an image for linux\/amd64, not linux\/arm64\/v8/);
  assert.equal(requestsMatching(registry, /\/blobs\//, from).length, 1);
});

test('pulling an unknown tag fails with the registry\'s error code', async (t) => {
  const registry = await startRegistry(t);
  await assert.rejects(pullImage(new RegistryClient(), parseImageReference(`${registry.host}/no/such:tag`), AMD64, await temporaryStore(t)), (error: unknown) => {
    assert.ok(error instanceof RegistryResponseError);
    assert.equal(error.status, 404);
    assert.equal(error.code, 'MANIFEST_UNKNOWN');
    assert.match(error.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v2\/no\/such\/manifests\/tag: 404 MANIFEST_UNKNOWN/);
    return true;
  });
});

test('pushing again skips every blob after a HEAD', async (t) => {
  const registry = await startRegistry(t);
  const image = await testImage({ layers: [{ a: '1' }, { b: '2' }] });
  const ref = parseImageReference(`${registry.host}/again/app:1`);
  await pushImage(new RegistryClient(), image, ref);

  const from = registry.requests.length;
  const outcomes: BlobUploadOutcome[] = [];
  await pushImage(new RegistryClient(), image, ref, { onBlob: (_descriptor, outcome) => outcomes.push(outcome) });
  assert.deepEqual(outcomes, ['exists', 'exists', 'exists']);
  assert.equal(requestsMatching(registry, /^HEAD .*\/blobs\//, from).length, 3);
  assert.deepEqual(requestsMatching(registry, /uploads/, from), []);
  assert.deepEqual(requestsMatching(registry, /^PUT /, from), ['PUT /v2/again/app/manifests/1']);
});

test('push mounts the base image\'s layers from its repository and uploads only the new ones', async (t) => {
  const registry = await startRegistry(t);
  const client = new RegistryClient();
  const base = await testImage({ layers: [{ 'bin/sh': 'base' }], label: 'base' });
  const baseRef = parseImageReference(`${registry.host}/library/base:1`);
  await pushImage(client, base, baseRef);
  const derived = await testImage({ layers: [{ 'bin/sh': 'base' }, { 'app/run': 'new' }], label: 'derived' });
  assert.equal(derived.layers[0]!.descriptor.digest, base.layers[0]!.descriptor.digest);

  const from = registry.requests.length;
  const outcomes = new Map<string, BlobUploadOutcome>();
  await pushImage(client, derived, parseImageReference(`${registry.host}/team/derived:1`), {
    mountFrom: baseRef,
    onBlob: (descriptor, outcome) => outcomes.set(descriptor.digest, outcome),
  });
  const baseLayer = base.layers[0]!.descriptor.digest;
  assert.equal(outcomes.get(baseLayer), 'mounted');
  assert.equal(outcomes.get(derived.layers[1]!.descriptor.digest), 'uploaded');
  assert.equal(outcomes.get(derived.manifest.config.digest), 'uploaded');
  assert.ok(requestsMatching(registry, /^POST /, from).includes(`POST /v2/team/derived/blobs/uploads/?mount=${baseLayer}&from=library%2Fbase`));
  assert.equal(requestsMatching(registry, /^PUT .*\/blobs\/uploads\//, from).length, 2, 'config and the new layer');

  const pulled = await pullImage(client, parseImageReference(`${registry.host}/team/derived:1`), AMD64, await temporaryStore(t));
  assert.equal(pulled.digest, derived.digest);
});

test('push to several references tags each, mounts into later repositories, and accepts a digest reference', async (t) => {
  const registry = await startRegistry(t);
  const client = new RegistryClient();
  const image = await testImage({ layers: [{ a: 'several' }] });
  const refs = [`${registry.host}/one/app:1`, `${registry.host}/one/app:latest`, `${registry.host}/two/app@${image.digest}`].map(parseImageReference);

  const from = registry.requests.length;
  assert.equal(await pushImage(client, image, refs), image.digest);
  assert.equal(requestsMatching(registry, /^PUT \/v2\/one\/app\/blobs\/uploads\//, from).length, 2);
  assert.equal(requestsMatching(registry, /^POST \/v2\/two\/app\/blobs\/uploads\/\?mount=.*&from=one%2Fapp$/, from).length, 2);
  assert.deepEqual(requestsMatching(registry, /manifests/, from), [
    'PUT /v2/one/app/manifests/1',
    'PUT /v2/one/app/manifests/latest',
    `PUT /v2/two/app/manifests/${image.digest}`,
  ]);
  for (const tag of ['1', 'latest']) assert.equal((await client.getManifest(refs[0]!, tag)).digest, image.digest);

  const other = await testImage({ layers: [{ b: 'other' }] });
  await assert.rejects(pushImage(client, other, refs[2]!), /pins another digest/);
});
