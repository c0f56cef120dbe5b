// The docker engine pushes to and pulls from a real `wharf serve` process.
// Loopback registries are insecure by default in docker, so plain HTTP needs no daemon config.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  digestFromOutput,
  docker,
  dockerImageExists,
  dockerUnavailableReason,
  importBusyboxImage,
  startRegistry,
  testImage,
  withServerLogs,
  type RunningRegistry,
} from './harness.js';

const unavailable = await dockerUnavailableReason();
if (unavailable) console.log(`# skipping docker end-to-end tests: ${unavailable}`);

const DOCKER_V2_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('docker engine against wharf serve', { skip: unavailable ?? false }, () => {
  let registry: RunningRegistry;
  const localRefs = new Set<string>();

  before(async () => {
    await testImage();
    registry = await startRegistry();
  });

  after(async () => {
    for (const ref of localRefs) await docker(['rmi', '-f', ref]).catch(() => {});
    await registry?.stop();
  });

  /** Removes local refs and checks the image itself is gone, so a later pull must download it. */
  async function removeLocally(...refs: string[]): Promise<void> {
    const id = (await docker(['image', 'inspect', '--format', '{{.Id}}', refs[0]])).stdout.trim();
    await docker(['rmi', ...refs]);
    assert.equal(await dockerImageExists(id), false, `image ${id} still present after docker rmi ${refs.join(' ')}`);
  }

  /** A single-layer busybox image whose content is unique to this run, tagged `ref`. */
  async function uniqueImage(ref: string): Promise<string> {
    const nonce = randomUUID();
    await importBusyboxImage(ref, { 'etc/wharf-nonce': `${nonce}\n` });
    localRefs.add(ref);
    return nonce;
  }

  /** Builds, offline, a three-layer image FROM the test image: base + COPY + RUN. */
  async function buildMultiLayer(ref: string): Promise<{ nonce: string }> {
    const nonce = randomUUID();
    const context = await mkdtemp(join(tmpdir(), 'wharf-e2e-build-'));
    try {
      await writeFile(join(context, 'added.txt'), `copied ${nonce}\n`);
      await writeFile(join(context, 'Dockerfile'), [
        'FROM wharf-test/busybox:latest',
        'ARG NONCE',
        'COPY added.txt /added.txt',
        'RUN mkdir -p /data && echo "ran $NONCE" > /data/run.txt',
        'CMD ["cat", "/added.txt"]',
        '',
      ].join('\n'));
      await docker(['build', '--network', 'none', '--build-arg', `NONCE=${nonce}`, '-t', ref, context], {
        env: { DOCKER_BUILDKIT: '0' },
      });
    } finally {
      await rm(context, { recursive: true, force: true });
    }
    localRefs.add(ref);
    return { nonce };
  }

  async function runIn(ref: string, ...command: string[]): Promise<string> {
    return (await docker(['run', '--rm', '--network', 'none', ref, ...command])).stdout;
  }

  test('docker push, rmi and pull round-trip an image that then runs', { timeout: 180_000 }, () =>
    withServerLogs(registry, async () => {
      const ref = `${registry.host}/e2e/busybox:v1`;
      const nonce = await uniqueImage(ref);

      const pushed = await docker(['push', ref]);
      const digest = digestFromOutput(pushed.stdout);

      await removeLocally(ref);
      const pulled = await docker(['pull', ref]);
      assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`), 'pull reports the digest push reported');

      assert.equal(await runIn(ref, 'echo', 'hi'), 'hi\n');
      assert.equal(await runIn(ref, 'cat', '/etc/wharf-nonce'), `${nonce}\n`);
    }));

  test('the test image itself pushes and pulls under a second tag', { timeout: 180_000 }, () =>
    withServerLogs(registry, async () => {
      const ref = `${registry.host}/e2e/base:v1`;
      await docker(['tag', 'wharf-test/busybox:latest', ref]);
      localRefs.add(ref);
      const first = digestFromOutput((await docker(['push', ref])).stdout);

      const ref2 = `${registry.host}/e2e/base:v2`;
      await docker(['tag', ref, ref2]);
      localRefs.add(ref2);
      const second = await docker(['push', ref2]);
      assert.equal(digestFromOutput(second.stdout), first, 'same image, same manifest digest');
      assert.match(second.stdout, /Layer already exists/, 'blobs already in the registry are not uploaded again');

      await docker(['rmi', ref, ref2]);
      await docker(['pull', ref2]);
      assert.equal(await runIn(ref2, 'echo', 'hi'), 'hi\n');
    }));

  test('a pushed tag pulls back by digest', { timeout: 180_000 }, () =>
    withServerLogs(registry, async () => {
      const repo = `${registry.host}/e2e/bydigest`;
      const nonce = await uniqueImage(`${repo}:v1`);
      await docker(['tag', `${repo}:v1`, `${repo}:v2`]);
      localRefs.add(`${repo}:v2`);

      await docker(['push', `${repo}:v1`]);
      const digest = digestFromOutput((await docker(['push', `${repo}:v2`])).stdout);

      await removeLocally(`${repo}:v1`, `${repo}:v2`);
      const byDigest = `${repo}@${digest}`;
      localRefs.add(byDigest);
      const pulled = await docker(['pull', byDigest]);
      assert.match(pulled.stdout, new RegExp(`Digest: ${digest}`));

      const repoDigests = JSON.parse((await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', byDigest])).stdout);
      assert.ok(repoDigests.includes(byDigest), `RepoDigests ${JSON.stringify(repoDigests)} lacks ${byDigest}`);
      assert.equal(await runIn(byDigest, 'cat', '/etc/wharf-nonce'), `${nonce}\n`);
    }));

  test('a multi-layer image built FROM the test image round-trips with every layer', { timeout: 240_000 }, () =>
    withServerLogs(registry, async () => {
      const name = 'e2e/nested/multi';
      const ref = `${registry.host}/${name}:v1`;
      const { nonce } = await buildMultiLayer(ref);

      const digest = digestFromOutput((await docker(['push', ref])).stdout);

      // What the registry now holds: the manifest docker pushed, and every blob it names.
      const res = await fetch(`${registry.url}/v2/${name}/manifests/v1`, {
        headers: { accept: `${DOCKER_V2_MANIFEST}, ${OCI_MANIFEST}` },
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      assert.equal(res.headers.get('content-type'), DOCKER_V2_MANIFEST);
      const manifest = (await res.json()) as { layers: { digest: string; size: number }[]; config: { digest: string; size: number } };
      assert.equal(manifest.layers.length, 3, 'base, COPY and RUN layers');
      for (const blob of [manifest.config, ...manifest.layers]) {
        const head = await fetch(`${registry.url}/v2/${name}/blobs/${blob.digest}`, { method: 'HEAD' });
        assert.equal(head.status, 200, `HEAD blob ${blob.digest}`);
        assert.equal(head.headers.get('content-length'), String(blob.size), `size of ${blob.digest}`);
      }

      await removeLocally(ref);
      await docker(['pull', ref]);
      assert.equal(await runIn(ref), `copied ${nonce}\n`, 'CMD from the image config, file from the COPY layer');
      assert.equal(await runIn(ref, 'cat', '/data/run.txt'), `ran ${nonce}\n`, 'file from the RUN layer');
      assert.equal(await runIn(ref, 'echo', 'hi'), 'hi\n', 'busybox from the base layer');
    }));

  test('layers pushed to one repository can be pushed to another and pulled from there', { timeout: 240_000 }, () =>
    withServerLogs(registry, async () => {
      const source = `${registry.host}/e2e/mount-source:v1`;
      const { nonce } = await buildMultiLayer(source);
      await docker(['push', source]);

      // Docker asks for a cross-repository mount here; a registry may mount or fall back to an upload.
      const target = `${registry.host}/e2e/mount-target:v1`;
      await docker(['tag', source, target]);
      localRefs.add(target);
      await docker(['push', target]);

      await removeLocally(source, target);
      await docker(['pull', target]);
      assert.equal(await runIn(target, 'cat', '/data/run.txt'), `ran ${nonce}\n`);
    }));

  test('a 48 MiB incompressible layer survives push and pull bit for bit', { timeout: 300_000 }, () =>
    withServerLogs(registry, async () => {
      const ref = `${registry.host}/e2e/big:v1`;
      const big = randomBytes(48 * 1024 * 1024);
      await importBusyboxImage(ref, { 'big.bin': big });
      localRefs.add(ref);
      await docker(['push', ref]);

      await removeLocally(ref);
      await docker(['pull', ref]);
      const expected = createHash('sha256').update(big).digest('hex');
      assert.equal((await runIn(ref, 'sha256sum', '/big.bin')).split(/\s+/)[0], expected);
    }));

  test('pulling a tag or repository that does not exist fails with "manifest unknown"', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      await assert.rejects(docker(['pull', `${registry.host}/e2e/busybox:no-such-tag`]), (err: Error) => {
        assert.match(err.message, /manifest unknown|not found/i);
        return true;
      });
      await assert.rejects(docker(['pull', `${registry.host}/e2e/no-such-repo:v1`]), (err: Error) => {
        assert.match(err.message, /manifest unknown|not found|repository .* not exist/i);
        return true;
      });
    }));
});
