import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';
import type { Descriptor } from '../../shared/oci.js';
import { newTestStorage } from '../support/test-storage.js';
import {
  absentDigest,
  assertError,
  getJson,
  indexBytes,
  newApp,
  pushImage,
  pushManifest,
  pushReferrer,
  type App,
  type IndexParts,
  type Response,
} from './fixtures.js';

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

const SBOM = 'application/vnd.example.sbom.v1';
const SIGNATURE = 'application/vnd.example.signature.v1';

function referrers(app: App, repo: string, digest: string, query = '') {
  return getJson<Index>(app, `/v2/${repo}/referrers/${digest}${query}`);
}

/** The digests the referrers list of `digest` names, in order. */
async function referrerDigests(app: App, repo: string, digest: string): Promise<string[] | undefined> {
  return (await referrers(app, repo, digest)).body?.manifests.map((m) => m.digest);
}

/** Pushes to foo/bar an image index over one new image, with `subject` and the other fields given. */
async function pushIndexReferrer(app: App, subject: Descriptor, fields: Pick<IndexParts, 'artifactType' | 'annotations'>) {
  const child = await pushImage(app, 'foo/bar');
  return pushManifest(app, 'foo/bar', indexBytes({ manifests: [child.descriptor], subject, ...fields }), MediaType.OciIndex);
}

/** Asserts a 200 answer whose body is an OCI image index. */
function assertIndex(res: Response, body: Index | undefined): void {
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(String(res.headers['content-type']).split(';')[0], MediaType.OciIndex);
  assert.equal(body?.schemaVersion, 2);
  assert.equal(body?.mediaType, MediaType.OciIndex);
}

function byDigest(index: Index | undefined, digest: string): Descriptor | undefined {
  return index?.manifests.find((m) => m.digest === digest);
}

describe('GET /v2/<name>/referrers/<digest>', () => {
  test('referrers returns an OCI index listing the manifests whose subject is the digest', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar', { tag: 'latest' });
    const sbom = await pushReferrer(app, 'foo/bar', subject.descriptor, {
      artifactType: SBOM,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.format': 'spdx' },
    });
    const sig = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SIGNATURE });
    const { res, body } = await referrers(app, 'foo/bar', subject.digest);
    assertIndex(res, body);
    assert.equal(body?.manifests.length, 2);
    assert.deepEqual(byDigest(body, sbom.digest), {
      mediaType: MediaType.OciManifest,
      digest: sbom.digest,
      size: sbom.size,
      artifactType: SBOM,
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.format': 'spdx' },
    });
    const sigDescriptor = byDigest(body, sig.digest);
    assert.equal(sigDescriptor?.artifactType, SIGNATURE);
    assert.equal(sigDescriptor?.size, sig.size);
    assert.equal(sigDescriptor?.mediaType, MediaType.OciManifest);
  });

  test('a referrer without artifactType is listed with its config mediaType as artifactType', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const referrer = await pushReferrer(app, 'foo/bar', subject.descriptor, { configMediaType: 'application/vnd.example.config.v1+json' });
    const { body } = await referrers(app, 'foo/bar', subject.digest);
    assert.equal(byDigest(body, referrer.digest)?.artifactType, 'application/vnd.example.config.v1+json');
  });

  test('an image manifest with a subject (not only artifacts) is a referrer', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const image = await pushImage(app, 'foo/bar', { subject: subject.descriptor, annotations: { note: 'rebuilt' } });
    const { body } = await referrers(app, 'foo/bar', subject.digest);
    const descriptor = byDigest(body, image.digest);
    assert.equal(descriptor?.artifactType, MediaType.OciConfig);
    assert.deepEqual(descriptor?.annotations, { note: 'rebuilt' });
  });

  test('an index with a subject is a referrer, listed without artifactType when it has none', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const index = await pushIndexReferrer(app, subject.descriptor, { annotations: { kind: 'bundle' } });
    const { body } = await referrers(app, 'foo/bar', subject.digest);
    const descriptor = byDigest(body, index.digest);
    assert.ok(descriptor, 'index referrer not listed');
    assert.equal(descriptor.mediaType, MediaType.OciIndex);
    assert.equal(descriptor.artifactType, undefined);
    assert.deepEqual(descriptor.annotations, { kind: 'bundle' });
  });

  test('an index with artifactType and a subject is listed with that artifactType', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const index = await pushIndexReferrer(app, subject.descriptor, { artifactType: SBOM });
    const { body } = await referrers(app, 'foo/bar', subject.digest);
    assert.equal(byDigest(body, index.digest)?.artifactType, SBOM);
  });

  test('?artifactType= keeps only matching referrers and sets OCI-Filters-Applied: artifactType', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const sbom = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SIGNATURE });
    const { res, body } = await referrers(app, 'foo/bar', subject.digest, `?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(body?.manifests.map((m) => m.digest), [sbom.digest]);
  });

  test('?artifactType= matching nothing returns 200 with an empty manifests list', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    const { res, body } = await referrers(app, 'foo/bar', subject.digest, '?artifactType=application%2Fvnd.example.none');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(body?.manifests, []);
  });

  test('without a filter, OCI-Filters-Applied is absent', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    const { res } = await referrers(app, 'foo/bar', subject.digest);
    assert.equal(res.headers['oci-filters-applied'], undefined);
  });

  test('a manifest with no referrers returns 200 with manifests: []', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const { res, body } = await referrers(app, 'foo/bar', subject.digest);
    assertIndex(res, body);
    assert.deepEqual(body?.manifests, []);
  });

  test('a digest unknown to the repository returns 200 with manifests: []', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar');
    const { res, body } = await referrers(app, 'foo/bar', absentDigest());
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(body?.manifests, []);
  });

  test('a referrer pushed before its subject is listed', async (t) => {
    const app = await newApp(t);
    const missing = { mediaType: MediaType.OciManifest, digest: absentDigest(), size: 400 };
    const referrer = await pushReferrer(app, 'foo/bar', missing, { artifactType: SBOM });
    assert.deepEqual(await referrerDigests(app, 'foo/bar', missing.digest), [referrer.digest]);
  });

  test('a referrer is removed from the list after its DELETE', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const gone = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    const kept = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SIGNATURE });
    const del = await app.inject({ method: 'DELETE', url: `/v2/foo/bar/manifests/${gone.digest}` });
    assert.equal(del.statusCode, 202);
    assert.deepEqual(await referrerDigests(app, 'foo/bar', subject.digest), [kept.digest]);
  });

  test('a referrer tagged and then untagged stays listed while its manifest exists', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const referrer = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM, tag: 'sbom' });
    const del = await app.inject({ method: 'DELETE', url: '/v2/foo/bar/manifests/sbom' });
    assert.equal(del.statusCode, 202);
    assert.deepEqual(await referrerDigests(app, 'foo/bar', subject.digest), [referrer.digest]);
  });

  test('a referrer pushed twice is listed once', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const referrer = await pushReferrer(app, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    await pushManifest(app, 'foo/bar', referrer.content, MediaType.OciManifest, 'again');
    assert.deepEqual(await referrerDigests(app, 'foo/bar', subject.digest), [referrer.digest]);
  });

  test('referrers are scoped to the repository they were pushed to', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/a');
    await pushReferrer(app, 'foo/a', subject.descriptor, { artifactType: SBOM });
    await pushImage(app, 'foo/b');
    const { res, body } = await referrers(app, 'foo/b', subject.digest);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body?.manifests, []);
  });

  test('referrers of a sha512 subject digest are listed', async (t) => {
    const app = await newApp(t);
    const subject = await pushImage(app, 'foo/bar');
    const sha512Subject = { ...subject.descriptor, digest: digestOf(subject.content, 'sha512') };
    const referrer = await pushReferrer(app, 'foo/bar', sha512Subject, { artifactType: SBOM });
    const { res, body } = await referrers(app, 'foo/bar', sha512Subject.digest);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(body?.manifests.map((m) => m.digest), [referrer.digest]);
  });

  test('referrers pushed through one instance are listed by another over the same storage', async (t) => {
    const storage = await newTestStorage();
    const one = await newApp(t, storage);
    const two = await newApp(t, storage);
    const subject = await pushImage(one, 'foo/bar');
    const referrer = await pushReferrer(one, 'foo/bar', subject.descriptor, { artifactType: SBOM });
    assert.deepEqual(await referrerDigests(two, 'foo/bar', subject.digest), [referrer.digest]);
  });

  test('referrers of a malformed digest returns 400', async (t) => {
    const app = await newApp(t);
    await pushImage(app, 'foo/bar');
    const { res } = await referrers(app, 'foo/bar', 'sha256:zzz');
    assertError(res, 400, 'DIGEST_INVALID');
  });
});
