import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';
import type { Descriptor, ImageIndex, Platform } from '../../shared/oci.js';
import { PlatformNotFoundError, selectPlatformManifest } from '../../shared/platform.js';
import { InsecureRegistries } from '../../shared/registry-client/insecure-registries.js';

const entry = (platform: Platform): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: digestOf(Buffer.from(JSON.stringify(platform))),
  size: 1,
  platform,
});

const index: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    entry({ os: 'linux', architecture: 'amd64' }),
    entry({ os: 'linux', architecture: 'arm', variant: 'v6' }),
    entry({ os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry({ os: 'unknown', architecture: 'unknown' }),
  ],
};

const CASES: [wanted: Platform, chosen: number][] = [
  [{ os: 'linux', architecture: 'amd64' }, 0],
  [{ os: 'linux', architecture: 'x86_64' }, 0],
  [{ os: 'linux', architecture: 'arm64' }, 3],
  [{ os: 'linux', architecture: 'aarch64' }, 3],
  [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, 3],
  [{ os: 'linux', architecture: 'arm' }, 2],
  [{ os: 'linux', architecture: 'arm', variant: 'v6' }, 1],
];

for (const [wanted, chosen] of CASES) {
  test(`selects index entry ${chosen} for ${JSON.stringify(wanted)}`, () => {
    assert.equal(selectPlatformManifest(index, wanted, 'test'), index.manifests[chosen]);
  });
}

test('a missing platform is an error listing the real platforms, not attestations', () => {
  assert.throws(
    () => selectPlatformManifest(index, { os: 'linux', architecture: 's390x' }, 'example/app:1'),
    (error: unknown) => {
      assert.ok(error instanceof PlatformNotFoundError);
      assert.equal(error.message, 'example/app:1 has no image for linux/s390x (available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8)');
      return true;
    },
  );
  assert.throws(() => selectPlatformManifest(index, { os: 'linux', architecture: 'arm', variant: 'v5' }, 'x'), PlatformNotFoundError);
});

const INSECURE: [host: string, insecure: boolean][] = [
  ['127.0.0.1:5000', true],
  ['127.8.9.10', true],
  ['localhost:443', true],
  ['[::1]:5000', true],
  ['registry.internal:5000', true],
  ['plain.example.com:1234', true],
  ['registry.internal:5001', false],
  ['ghcr.io', false],
  ['128.0.0.1:5000', false],
];

for (const [host, insecure] of INSECURE) {
  test(`${host} is ${insecure ? '' : 'not '}an insecure registry`, () => {
    assert.equal(new InsecureRegistries(['registry.internal:5000', 'PLAIN.example.com']).has(host), insecure);
  });
}
