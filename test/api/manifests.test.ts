import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';
import { newTestStorage } from '../support/test-storage.js';
import {
  absentDigest,
  assertError,
  imageConfig,
  indexBytes,
  locationPath,
  manifestBytes,
  newApp,
  pushBlob,
  pushImage,
  pushManifest,
  putManifest,
  randomBlob,
  type App,
} from './fixtures.js';

const ALL_MANIFEST_TYPES = [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest].join(', ');

async function getManifest(app: App, repo: string, reference: string, method: 'GET' | 'HEAD' = 'GET') {
  return app.inject({ method, url: `/v2/${repo}/manifests/${reference}`, headers: { accept: ALL_MANIFEST_TYPES } });
}

/** Pushes the blobs of an OCI image and returns its (unpushed) manifest bytes. */
async function ociManifestOverPushedBlobs(app: App, repo: string): Promise<Buffer> {
  const config = await pushBlob(app, repo, imageConfig());
  const layer = await pushBlob(app, repo, randomBlob(200));
  return manifestBytes({
    config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
    layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
  });
}

describe('PUT /v2/<name>/manifests/<reference>', () => {
  test('PUT an OCI image manifest by tag returns 201 with Location and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content, MediaType.OciManifest);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digestOf(content));
    assert.ok(locationPath(res).startsWith('/v2/foo/bar/manifests/'), String(res.headers.location));
  });

  test('the Location of a pushed manifest is pullable', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'v1', content, MediaType.OciManifest);
    const get = await app.inject({ method: 'GET', url: locationPath(res), headers: { accept: ALL_MANIFEST_TYPES } });
    assert.equal(get.statusCode, 200);
    assert.deepEqual(get.rawPayload, content);
  });

  test('PUT an OCI image manifest by digest returns 201 with Location and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const digest = digestOf(content);
    const res = await putManifest(app, 'foo/bar', digest, content, MediaType.OciManifest);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.equal(locationPath(res), `/v2/foo/bar/manifests/${digest}`);
  });

  test('PUT an OCI index over pushed manifests returns 201', async (t) => {
    const app = await newApp(t);
    const amd = await pushImage(app, 'foo/bar');
    const arm = await pushImage(app, 'foo/bar');
    const content = indexBytes({
      manifests: [
        { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    });
    const res = await putManifest(app, 'foo/bar', 'multi', content, MediaType.OciIndex);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digestOf(content));
    assert.ok(locationPath(res).startsWith('/v2/foo/bar/manifests/'));
  });

  test('PUT a Docker schema 2 manifest returns 201', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { docker: true, tag: 'docker' });
    const get = await getManifest(app, 'foo/bar', 'docker');
    assert.equal(get.statusCode, 200);
    assert.equal(get.headers['content-type'], MediaType.DockerManifest);
    assert.deepEqual(get.rawPayload, image.content);
  });

  test('PUT a Docker manifest list over pushed manifests returns 201', async (t) => {
    const app = await newApp(t);
    const amd = await pushImage(app, 'foo/bar', { docker: true });
    const arm = await pushImage(app, 'foo/bar', { docker: true });
    const content = indexBytes({
      mediaType: MediaType.DockerManifestList,
      manifests: [
        { ...amd.descriptor, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm.descriptor, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    });
    const res = await putManifest(app, 'foo/bar', 'list', content, MediaType.DockerManifestList);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digestOf(content));
    const get = await getManifest(app, 'foo/bar', 'list');
    assert.equal(get.headers['content-type'], MediaType.DockerManifestList);
    assert.deepEqual(get.rawPayload, content);
  });

  test('PUT an index whose children include another index returns 201', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    const inner = await pushManifest(app, 'foo/bar', indexBytes({ manifests: [image.descriptor] }), MediaType.OciIndex);
    const outer = indexBytes({ manifests: [inner.descriptor] });
    const res = await putManifest(app, 'foo/bar', 'nested', outer, MediaType.OciIndex);
    assert.equal(res.statusCode, 201, res.body);
  });

  test('PUT a manifest with a Content-Type carrying parameters is accepted', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content, `${MediaType.OciManifest}; charset=utf-8`);
    assert.equal(res.statusCode, 201, res.body);
  });

  test('PUT the same manifest twice is idempotent', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const again = await putManifest(app, 'foo/bar', 'latest', image.content, MediaType.OciManifest);
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.headers['docker-content-digest'], image.digest);
  });

  test('PUT to an existing tag moves the tag to the new manifest', async (t) => {
    const app = await newApp(t);
    const first = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const second = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const get = await getManifest(app, 'foo/bar', 'latest');
    assert.equal(get.headers['docker-content-digest'], second.digest);
    assert.deepEqual(get.rawPayload, second.content);
    // the old manifest is still there by digest
    assert.equal((await getManifest(app, 'foo/bar', first.digest)).statusCode, 200);
  });

  test('a manifest of 3.5 MiB (under the 4 MiB limit) is accepted', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      annotations: { padding: 'x'.repeat(3.5 * 1024 * 1024) },
    });
    assert.ok(content.length < 4 * 1024 * 1024);
    const res = await putManifest(app, 'foo/bar', 'big', content, MediaType.OciManifest);
    assert.equal(res.statusCode, 201, res.body.slice(0, 500));
    const get = await getManifest(app, 'foo/bar', 'big');
    assert.equal(get.rawPayload.length, content.length);
  });
});

describe('PUT /v2/<name>/manifests/<reference> refusals', () => {
  test('a manifest referencing a missing layer returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: absentDigest(), size: 10 }],
    });
    assertError(await putManifest(app, 'foo/bar', 'latest', content), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal((await getManifest(app, 'foo/bar', 'latest')).statusCode, 404);
  });

  test('a manifest referencing a missing config returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const layer = await pushBlob(app, 'foo/bar');
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: absentDigest(), size: 10 },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
    });
    assertError(await putManifest(app, 'foo/bar', 'latest', content), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('a manifest referencing a blob that only exists in another repository returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const foreign = await pushBlob(app, 'other/repo');
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: foreign.digest, size: foreign.size }],
    });
    assertError(await putManifest(app, 'foo/bar', 'latest', content), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('an index referencing a missing manifest returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    const content = indexBytes({
      manifests: [image.descriptor, { mediaType: MediaType.OciManifest, digest: absentDigest(), size: 300 }],
    });
    assertError(await putManifest(app, 'foo/bar', 'multi', content, MediaType.OciIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('malformed JSON returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const res = await putManifest(app, 'foo/bar', 'latest', Buffer.from('{"schemaVersion": 2, "config": '), MediaType.OciManifest);
    assertError(res, 400, 'MANIFEST_INVALID');
  });

  test('a JSON body that is not a manifest returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    for (const body of ['[]', '"hello"', '{}', '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}']) {
      const res = await putManifest(app, 'foo/bar', 'latest', Buffer.from(body), MediaType.OciManifest);
      assertError(res, 400, 'MANIFEST_INVALID');
    }
  });

  test('a manifest with schemaVersion other than 2 returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const parsed = JSON.parse(content.toString()) as Record<string, unknown>;
    const res = await putManifest(app, 'foo/bar', 'latest', Buffer.from(JSON.stringify({ ...parsed, schemaVersion: 3 })));
    assertError(res, 400, 'MANIFEST_INVALID');
  });

  test('an unknown Content-Type media type returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content, 'application/vnd.example.unknown+json');
    assertError(res, 400, 'MANIFEST_INVALID');
  });

  test('a Content-Type that contradicts the manifest mediaType returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content, MediaType.DockerManifest);
    assertError(res, 400, 'MANIFEST_INVALID');
  });

  test('an image manifest sent as an index Content-Type returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content, MediaType.OciIndex);
    assertError(res, 400, 'MANIFEST_INVALID');
  });

  test('PUT by a digest that does not match the body returns 400 DIGEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const wrong = absentDigest();
    assertError(await putManifest(app, 'foo/bar', wrong, content), 400, 'DIGEST_INVALID');
    assert.equal((await getManifest(app, 'foo/bar', wrong)).statusCode, 404);
    assert.equal((await getManifest(app, 'foo/bar', digestOf(content))).statusCode, 404);
  });

  test('PUT by a malformed digest reference returns 400', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'sha256:nothex', content);
    assertError(res, 400, ['DIGEST_INVALID', 'TAG_INVALID', 'MANIFEST_INVALID']);
  });

  test('PUT by an invalid tag returns 400 TAG_INVALID or MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    for (const tag of ['.hidden', '-dash', 'x'.repeat(129)]) {
      const res = await putManifest(app, 'foo/bar', tag, content);
      assertError(res, 400, ['TAG_INVALID', 'MANIFEST_INVALID']);
    }
  });

  test('a manifest over 4 MiB returns 413', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      annotations: { padding: 'x'.repeat(4 * 1024 * 1024 + 1) },
    });
    assertError(await putManifest(app, 'foo/bar', 'huge', content), 413, ['MANIFEST_INVALID', 'SIZE_INVALID']);
    assert.equal((await getManifest(app, 'foo/bar', 'huge')).statusCode, 404);
  });
});

describe('PUT /v2/<name>/manifests/<reference> edge cases', () => {
  test('a manifest of exactly 4 MiB is accepted', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const build = (pad: number) =>
      manifestBytes({
        config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
        annotations: { padding: 'x'.repeat(pad) },
      });
    const overhead = build(0).length;
    const content = build(4 * 1024 * 1024 - overhead);
    assert.equal(content.length, 4 * 1024 * 1024);
    const res = await putManifest(app, 'foo/bar', 'edge', content);
    assert.equal(res.statusCode, 201, res.body.slice(0, 500));
  });

  test('an empty body returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    assertError(await putManifest(app, 'foo/bar', 'latest', Buffer.alloc(0)), 400, 'MANIFEST_INVALID');
  });

  test('an index referencing a manifest that only exists in another repository returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const foreign = await pushImage(app, 'other/repo');
    await pushImage(app, 'foo/bar');
    const content = indexBytes({ manifests: [foreign.descriptor] });
    assertError(await putManifest(app, 'foo/bar', 'multi', content, MediaType.OciIndex), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('a Docker manifest list referencing a missing manifest returns 400 MANIFEST_BLOB_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { docker: true });
    const content = indexBytes({
      mediaType: MediaType.DockerManifestList,
      manifests: [image.descriptor, { mediaType: MediaType.DockerManifest, digest: absentDigest(), size: 10 }],
    });
    assertError(await putManifest(app, 'foo/bar', 'list', content, MediaType.DockerManifestList), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  test('an index body sent as an image manifest Content-Type returns 400 MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    const content = indexBytes({ manifests: [image.descriptor] });
    assertError(await putManifest(app, 'foo/bar', 'multi', content, MediaType.OciManifest), 400, 'MANIFEST_INVALID');
  });

  test('a manifest PUT without Content-Type is either stored with the mediaType of its body or refused with MANIFEST_INVALID', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await app.inject({ method: 'PUT', url: '/v2/foo/bar/manifests/latest', payload: content });
    if (res.statusCode === 201) {
      assert.equal((await getManifest(app, 'foo/bar', 'latest')).headers['content-type'], MediaType.OciManifest);
    } else {
      assertError(res, 400, 'MANIFEST_INVALID');
    }
  });

  test('a Docker manifest with a foreign layer (urls, not pushed) is accepted, as Windows base images need', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const layer = await pushBlob(app, 'foo/bar', randomBlob());
    const content = manifestBytes({
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: config.digest, size: config.size },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          digest: absentDigest(),
          size: 1234567,
          urls: ['https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:0000'],
        },
        { mediaType: MediaType.DockerLayerGzip, digest: layer.digest, size: layer.size },
      ],
    });
    const res = await putManifest(app, 'foo/bar', 'windows', content, MediaType.DockerManifest);
    assert.equal(res.statusCode, 201, res.body);
  });

  test('a manifest with a malformed layer digest returns 400', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const content = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
        layers: [{ mediaType: MediaType.OciLayerGzip, digest: 'sha256:nothex', size: 1 }],
      }),
    );
    assertError(await putManifest(app, 'foo/bar', 'latest', content), 400, ['MANIFEST_INVALID', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN']);
  });
});

describe('manifests live in storage', () => {
  test('a manifest pushed through one instance is served by another over the same storage', async (t) => {
    const storage = await newTestStorage();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    const image = await pushImage(one, 'foo/bar', { tag: 'latest' });
    const res = await getManifest(two, 'foo/bar', 'latest');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, image.content);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    // a tag moved on one instance is seen moved on the other
    const next = await pushImage(two, 'foo/bar', { tag: 'latest' });
    assert.equal((await getManifest(one, 'foo/bar', 'latest')).headers['docker-content-digest'], next.digest);
    // and a delete on one is seen by the other
    await one.inject({ method: 'DELETE', url: `/v2/foo/bar/manifests/${next.digest}` });
    assert.equal((await getManifest(two, 'foo/bar', next.digest)).statusCode, 404);
    assert.equal((await getManifest(two, 'foo/bar', 'latest')).statusCode, 404);
  });
});

describe('GET and HEAD /v2/<name>/manifests/<reference>', () => {
  test('GET by tag returns the exact bytes, the stored Content-Type and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await getManifest(app, 'foo/bar', 'latest');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, image.content);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.equal(res.headers['docker-content-digest'], image.digest);
    assert.equal(res.headers['content-length'], String(image.size));
  });

  test('GET by digest returns the exact bytes, the stored Content-Type and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await getManifest(app, 'foo/bar', image.digest);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, image.content);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.equal(res.headers['docker-content-digest'], image.digest);
  });

  test('HEAD by tag returns 200 with Content-Type, Content-Length, Docker-Content-Digest and no body', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await getManifest(app, 'foo/bar', 'latest', 'HEAD');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.equal(res.headers['content-length'], String(image.size));
    assert.equal(res.headers['docker-content-digest'], image.digest);
    assert.equal(res.rawPayload.length, 0);
  });

  test('HEAD by digest returns 200 with Content-Type, Content-Length and Docker-Content-Digest', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    const res = await getManifest(app, 'foo/bar', image.digest, 'HEAD');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.equal(res.headers['content-length'], String(image.size));
    assert.equal(res.headers['docker-content-digest'], image.digest);
  });

  test('GET of an index returns its bytes with the OCI index Content-Type', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    const index = await pushManifest(app, 'foo/bar', indexBytes({ manifests: [image.descriptor] }), MediaType.OciIndex, 'multi');
    const res = await getManifest(app, 'foo/bar', 'multi');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], MediaType.OciIndex);
    assert.equal(res.headers['docker-content-digest'], index.digest);
    assert.deepEqual(res.rawPayload, index.content);
  });

  test('GET of a Docker schema 2 manifest by digest returns the Docker Content-Type', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { docker: true });
    const res = await getManifest(app, 'foo/bar', image.digest);
    assert.equal(res.headers['content-type'], MediaType.DockerManifest);
    assert.deepEqual(res.rawPayload, image.content);
  });

  test('GET of a manifest without a mediaType field returns the Content-Type it was pushed with', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig());
    const content = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
        layers: [],
      }),
    );
    await pushManifest(app, 'foo/bar', content, MediaType.OciManifest, 'bare');
    const res = await getManifest(app, 'foo/bar', 'bare');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.deepEqual(res.rawPayload, content);
  });

  test('a manifest pushed by digest in one repository is unknown in another', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    await pushImage(app, 'foo/other');
    assertError(await getManifest(app, 'foo/other', image.digest), 404, 'MANIFEST_UNKNOWN');
  });

  test('GET of an unknown tag returns 404 MANIFEST_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'latest' });
    assertError(await getManifest(app, 'foo/bar', 'nope'), 404, 'MANIFEST_UNKNOWN');
  });

  test('GET of an unknown digest returns 404 MANIFEST_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'latest' });
    assertError(await getManifest(app, 'foo/bar', absentDigest()), 404, 'MANIFEST_UNKNOWN');
  });

  test('GET of a blob digest through the manifests endpoint returns 404 MANIFEST_UNKNOWN', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar');
    assertError(await getManifest(app, 'foo/bar', image.layers[0]!.digest), 404, 'MANIFEST_UNKNOWN');
  });

  test('GET of a manifest in a repository that does not exist returns 404', async (t) => {
    const app = await newApp(t);
    assertError(await getManifest(app, 'no/such/repo', 'latest'), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
  });

  test('HEAD of an unknown tag returns 404', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'latest' });
    assert.equal((await getManifest(app, 'foo/bar', 'nope', 'HEAD')).statusCode, 404);
  });

  test('GET without an Accept header still returns an OCI manifest with its Content-Type', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await app.inject({ method: 'GET', url: '/v2/foo/bar/manifests/latest' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], MediaType.OciManifest);
    assert.deepEqual(res.rawPayload, image.content);
  });

  test('a manifest pushed with sha512 blobs is served back', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', imageConfig(), 'sha512');
    const layer = await pushBlob(app, 'foo/bar', randomBlob(), 'sha512');
    const content = manifestBytes({
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
    });
    await pushManifest(app, 'foo/bar', content, MediaType.OciManifest, 'sha512');
    const res = await getManifest(app, 'foo/bar', 'sha512');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, content);
  });

  test('a manifest can be pushed and pulled by its sha512 digest', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const digest = digestOf(content, 'sha512');
    const res = await putManifest(app, 'foo/bar', digest, content);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['docker-content-digest'], digest);
    const get = await getManifest(app, 'foo/bar', digest);
    assert.equal(get.statusCode, 200);
    assert.deepEqual(get.rawPayload, content);
  });
});

describe('DELETE /v2/<name>/manifests/<reference>', () => {
  test('DELETE by digest returns 202, then GET returns 404 MANIFEST_UNKNOWN and its tags are gone', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    await putManifest(app, 'foo/bar', 'stable', image.content);
    await pushImage(app, 'foo/bar', { tag: 'keep' });
    const del = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/manifests/${image.digest}` });
    assert.equal(del.statusCode, 202, del.body);
    assertError(await getManifest(app, 'foo/bar', image.digest), 404, 'MANIFEST_UNKNOWN');
    assertError(await getManifest(app, 'foo/bar', 'latest'), 404, 'MANIFEST_UNKNOWN');
    assertError(await getManifest(app, 'foo/bar', 'stable'), 404, 'MANIFEST_UNKNOWN');
    const tags = await app.inject({ method: 'GET', url: '/v2/foo/bar/tags/list' });
    assert.equal(tags.statusCode, 200);
    assert.deepEqual((tags.json() as { tags: string[] }).tags, ['keep']);
  });

  test('DELETE by tag returns 202: the tag is gone and the digest is still there', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    await putManifest(app, 'foo/bar', 'stable', image.content);
    const del = await app.inject({ method: 'DELETE', url: '/v2/foo/bar/manifests/latest' });
    assert.equal(del.statusCode, 202, del.body);
    assertError(await getManifest(app, 'foo/bar', 'latest'), 404, 'MANIFEST_UNKNOWN');
    const byDigest = await getManifest(app, 'foo/bar', image.digest);
    assert.equal(byDigest.statusCode, 200);
    assert.deepEqual(byDigest.rawPayload, image.content);
    assert.equal((await getManifest(app, 'foo/bar', 'stable')).statusCode, 200);
  });

  test('DELETE of an unknown digest returns 404 MANIFEST_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/manifests/${absentDigest()}` });
    assertError(res, 404, 'MANIFEST_UNKNOWN');
  });

  test('DELETE of an unknown tag returns 404 MANIFEST_UNKNOWN', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar', { tag: 'latest' });
    const res = await app.inject({ method: 'DELETE', url: '/v2/foo/bar/manifests/nope' });
    assertError(res, 404, 'MANIFEST_UNKNOWN');
  });

  test('a deleted manifest can be pushed again', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/bar', { tag: 'latest' });
    await app.inject({ method: 'DELETE', url: `/v2/foo/bar/manifests/${image.digest}` });
    const again = await putManifest(app, 'foo/bar', 'latest', image.content);
    assert.equal(again.statusCode, 201, again.body);
    assert.deepEqual((await getManifest(app, 'foo/bar', 'latest')).rawPayload, image.content);
  });

  test('DELETE of a manifest in one repository leaves the same manifest in another repository', async (t) => {
    const app = await newApp(t);
    const image = await pushImage(app, 'foo/a', { tag: 'latest' });
    for (const blob of [image.config, ...image.layers]) await pushBlob(app, 'foo/b', blob.content);
    await pushManifest(app, 'foo/b', image.content, MediaType.OciManifest, 'latest');
    await app.inject({ method: 'DELETE', url: `/v2/foo/a/manifests/${image.digest}` });
    const res = await getManifest(app, 'foo/b', 'latest');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.rawPayload, image.content);
  });
});

describe('manifests with a subject', () => {
  test('PUT of a manifest with subject returns OCI-Subject: <subject digest>', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const config = await pushBlob(app, 'foo/bar', Buffer.from('{}'));
    const content = manifestBytes({
      artifactType: 'application/vnd.example.sbom.v1',
      config: { mediaType: MediaType.OciEmpty, digest: config.digest, size: config.size },
      layers: [],
      subject: subject.descriptor,
    });
    const res = await putManifest(app, 'foo/bar', digestOf(content), content);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['oci-subject'], subject.digest);
  });

  test('a manifest whose subject does not exist yet is accepted with OCI-Subject', async (t) => {
    const app = await newApp(t);
    const config = await pushBlob(app, 'foo/bar', Buffer.from('{}'));
    const missing = { mediaType: MediaType.OciManifest, digest: absentDigest(), size: 512 };
    const content = manifestBytes({
      artifactType: 'application/vnd.example.sig.v1',
      config: { mediaType: MediaType.OciEmpty, digest: config.digest, size: config.size },
      subject: missing,
    });
    const res = await putManifest(app, 'foo/bar', digestOf(content), content);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['oci-subject'], missing.digest);
  });

  test('an index with a subject returns OCI-Subject', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const child = await pushImage(app, 'foo/bar');
    const content = indexBytes({ manifests: [child.descriptor], subject: subject.descriptor });
    const res = await putManifest(app, 'foo/bar', digestOf(content), content, MediaType.OciIndex);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['oci-subject'], subject.digest);
  });

  test('a manifest without subject gets no OCI-Subject header', async (t) => {
    const app = await newApp(t);
    const content = await ociManifestOverPushedBlobs(app, 'foo/bar');
    const res = await putManifest(app, 'foo/bar', 'latest', content);
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['oci-subject'], undefined);
  });
});
