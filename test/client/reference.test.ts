import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseImageReference, ReferenceParseError, registryHost } from '../../shared/reference.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);

const VALID: [input: string, registry: string, repository: string, tag: string | undefined, digest: string | undefined, familiar: string][] = [
  ['alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
  ['alpine:3.19', 'docker.io', 'library/alpine', '3.19', undefined, 'alpine:3.19'],
  ['library/alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
  ['docker.io/alpine', 'docker.io', 'library/alpine', 'latest', undefined, 'alpine:latest'],
  ['index.docker.io/library/alpine:edge', 'docker.io', 'library/alpine', 'edge', undefined, 'alpine:edge'],
  ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined, 'bitnami/redis:7'],
  ['docker.io/library/team/tool', 'docker.io', 'library/team/tool', 'latest', undefined, 'library/team/tool:latest'],
  ['ghcr.io/owner/app:v1.2.3', 'ghcr.io', 'owner/app', 'v1.2.3', undefined, 'ghcr.io/owner/app:v1.2.3'],
  ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
  ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined, 'localhost:5000/app:dev'],
  ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000', 'a/b/c', 'latest', undefined, '127.0.0.1:5000/a/b/c:latest'],
  ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined, '[::1]:5000/app:1'],
  ['Registry/app', 'Registry', 'app', 'latest', undefined, 'Registry/app:latest'],
  [`alpine@${DIGEST}`, 'docker.io', 'library/alpine', undefined, DIGEST, `alpine@${DIGEST}`],
  [`alpine:3@${DIGEST}`, 'docker.io', 'library/alpine', '3', DIGEST, `alpine:3@${DIGEST}`],
  [`quay.io:443/org/app@${DIGEST}`, 'quay.io:443', 'org/app', undefined, DIGEST, `quay.io:443/org/app@${DIGEST}`],
  ['my_org/my-app__x.y', 'docker.io', 'my_org/my-app__x.y', 'latest', undefined, 'my_org/my-app__x.y:latest'],
  // As in Docker: without a '/', "localhost:5000" is the image "localhost" with tag "5000".
  ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined, 'localhost:5000'],
];

for (const [input, registry, repository, tag, digest, familiar] of VALID) {
  test(`parses ${input}`, () => {
    const ref = parseImageReference(input);
    assert.deepEqual(
      { registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest, familiar: ref.familiar },
      { registry, repository, tag, digest, familiar },
    );
    assert.equal(ref.toString(), `${registry}/${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);
  });
}

const INVALID: [input: string, reason: RegExp][] = [
  ['', /empty/],
  ['Alpine', /lower-case/],
  ['ghcr.io/Owner/app', /lower-case/],
  ['alpine:', /not a valid tag/],
  ['alpine:-x', /not a valid tag/],
  [`alpine:${'t'.repeat(129)}`, /not a valid tag/],
  ['alpine@sha256:abc', /not a valid digest/],
  [`alpine@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['alpine@', /not a valid digest/],
  ['a'.repeat(64), /image ID/],
  ['ghcr.io/', /repository name is empty/],
  ['ghcr.io//app', /not a valid repository name/],
  ['app-/x', /not a valid repository name/],
  ['bad_host.io:x/app', /not a valid registry host/],
  ['-bad.io/app', /not a valid registry host/],
  [`example.com/${'a'.repeat(250)}`, /longer than 255/],
  ['alpine latest', /not a valid/],
];

for (const [input, reason] of INVALID) {
  test(`refuses ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}`, () => {
    assert.throws(() => parseImageReference(input), (error: unknown) => {
      assert.ok(error instanceof ReferenceParseError);
      assert.equal(error.input, input);
      assert.match(error.message, /^invalid image reference ".*": /s);
      assert.match(error.message, reason);
      return true;
    });
  });
}

test('manifestReference is the digest when pinned, else the tag', () => {
  assert.equal(parseImageReference('alpine').manifestReference, 'latest');
  assert.equal(parseImageReference(`alpine:3@${DIGEST}`).manifestReference, DIGEST);
});

test('registryHost sends Docker Hub to registry-1.docker.io and leaves other registries alone', () => {
  assert.equal(registryHost(parseImageReference('alpine').registry), 'registry-1.docker.io');
  assert.equal(registryHost('ghcr.io'), 'ghcr.io');
  assert.equal(registryHost('localhost:5000'), 'localhost:5000');
});
