// skopeo copies images into and out of a real `wharf serve` process, in OCI and Docker
// formats, and inspects, lists and deletes them. The source image is an OCI layout
// written by the test itself, so only the docker-daemon test needs a docker engine.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tarFiles } from '../support/tar-reading.js';
import {
  docker,
  dockerUnavailableReason,
  hasCommand,
  run,
  startRegistry,
  testImage,
  withServerLogs,
  type RunningRegistry,
} from './harness.js';
import {
  busyboxRootfsEntries,
  ociArchitecture,
  sha256,
  tarOf,
  writeOciImageIndex,
  writeOciLayout,
  type WrittenOciImage,
  type WrittenOciIndex,
} from './images.js';

const skopeoMissing = !(await hasCommand('skopeo'));
if (skopeoMissing) console.log('# skipping skopeo end-to-end tests: skopeo is not installed');

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_V2_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

interface Manifest {
  mediaType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number }[];
}

/** What `skopeo inspect` prints (the fields the tests look at). */
interface Inspection {
  Name: string;
  Digest: string;
  RepoTags: string[];
  Layers: string[];
  Architecture: string;
  Os: string;
}

function skopeo(args: string[]) {
  return run('skopeo', ['--insecure-policy', ...args]);
}

/** `skopeo copy` with TLS verification off on both sides (plain HTTP registry). */
function copy(from: string, to: string, ...flags: string[]) {
  return skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', ...flags, from, to]);
}

async function inspect(ref: string): Promise<Inspection> {
  return JSON.parse((await skopeo(['inspect', '--tls-verify=false', ref])).stdout) as Inspection;
}

async function rawManifest(ref: string): Promise<Buffer> {
  return Buffer.from((await skopeo(['inspect', '--raw', '--tls-verify=false', ref])).stdout);
}

async function listTags(ref: string): Promise<{ Repository: string; Tags: string[] }> {
  return JSON.parse((await skopeo(['list-tags', '--tls-verify=false', ref])).stdout);
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

describe('skopeo against wharf serve', { skip: skopeoMissing ? 'skopeo is not installed' : false }, () => {
  let registry: RunningRegistry;
  let work: string;
  let srcLayout: string;
  let source: WrittenOciImage;
  let other: WrittenOciImage;
  let multi: WrittenOciIndex;
  const nonce = randomUUID();
  const repo = () => `docker://${registry.host}/skopeo/image`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'wharf-e2e-skopeo-'));
    srcLayout = join(work, 'src');
    const base = await tarOf(await busyboxRootfsEntries());
    const extra = await tarOf([
      { type: 'directory', name: 'etc' },
      { type: 'file', name: 'etc/wharf-e2e.txt', content: `second layer ${nonce}\n` },
    ]);
    source = await writeOciLayout(srcLayout, 'v1', [base, extra], { cmd: ['cat', '/etc/wharf-e2e.txt'] });
    const foreign = ociArchitecture() === 'amd64' ? 'arm64' : 'amd64';
    multi = await writeOciImageIndex(srcLayout, 'multi', [base, extra], [ociArchitecture(), foreign], { cmd: ['cat', '/etc/wharf-e2e.txt'] });
    const different = await tarOf([{ type: 'file', name: 'doomed.txt', content: `doomed ${nonce}\n` }]);
    other = await writeOciLayout(srcLayout, 'other', [base, different]);
    registry = await startRegistry();
  });

  after(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('copy oci: → docker:// --format oci stores the manifest byte for byte', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      await copy(`oci:${srcLayout}:v1`, `${repo()}:oci`, '--format', 'oci');

      const raw = await rawManifest(`${repo()}:oci`);
      assert.equal(raw.toString(), source.manifestBytes.toString());
      assert.equal((await inspect(`${repo()}:oci`)).Digest, source.manifest.digest);

      const res = await fetch(`${registry.url}/v2/skopeo/image/manifests/oci`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_MANIFEST);
      assert.equal(res.headers.get('docker-content-digest'), source.manifest.digest);
    }));

  test('copy oci: → docker:// --format v2s2 stores a Docker manifest over the same blobs', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      await copy(`oci:${srcLayout}:v1`, `${repo()}:v2s2`, '--format', 'v2s2');

      const raw = await rawManifest(`${repo()}:v2s2`);
      const manifest = JSON.parse(raw.toString()) as Manifest;
      assert.equal(manifest.mediaType, DOCKER_V2_MANIFEST);
      assert.deepEqual(manifest.layers.map((l) => l.digest), source.layers.map((l) => l.digest));
      assert.deepEqual(manifest.layers.map((l) => l.mediaType), [DOCKER_LAYER, DOCKER_LAYER]);
      assert.equal((await inspect(`${repo()}:v2s2`)).Digest, sha256(raw));

      const res = await fetch(`${registry.url}/v2/skopeo/image/manifests/v2s2`, { headers: { accept: DOCKER_V2_MANIFEST } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), DOCKER_V2_MANIFEST);
      assert.equal(res.headers.get('docker-content-digest'), sha256(raw));
    }));

  test('copy docker:// → oci: returns the same manifest, config and layers', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      const back = join(work, 'back-oci');
      await copy(`${repo()}:oci`, `oci:${back}:v1`);

      const index = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      assert.deepEqual(index.manifests.map((m) => m.digest), [source.manifest.digest]);
      for (const blob of [source.config, ...source.layers]) {
        const copied = await readFile(join(back, 'blobs', 'sha256', hex(blob.digest)));
        const original = await readFile(join(srcLayout, 'blobs', 'sha256', hex(blob.digest)));
        assert.ok(copied.equals(original), `blob ${blob.digest} differs after the round trip`);
      }
    }));

  test('copy docker:// → dir: returns layers whose contents match the source', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      const dir = join(work, 'back-dir');
      await copy(`${repo()}:v2s2`, `dir:${dir}`);

      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
      assert.equal(manifest.mediaType, DOCKER_V2_MANIFEST);
      const layers = await Promise.all(manifest.layers.map((l) => readFile(join(dir, hex(l.digest)))));
      assert.deepEqual(layers.map((bytes) => sha256(bytes)), source.layers.map((l) => l.digest));

      const config = JSON.parse(await readFile(join(dir, hex(manifest.config.digest)), 'utf8')) as { rootfs: { diff_ids: string[] } };
      assert.deepEqual(config.rootfs.diff_ids, source.diffIds);

      const [baseFiles, extraFiles] = await Promise.all(layers.map((bytes) => tarFiles(bytes)));
      assert.ok(baseFiles.get('bin/busybox')?.equals(await readFile('/bin/busybox')), 'busybox in the first layer');
      assert.equal(extraFiles.get('etc/wharf-e2e.txt')?.toString(), `second layer ${nonce}\n`);
    }));

  test('copy docker:// → docker:// into another repository keeps the digest', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      // skopeo tries a cross-repository mount of each blob here.
      const target = `docker://${registry.host}/skopeo/copied:v1`;
      await copy(`${repo()}:oci`, target, '--preserve-digests');
      const inspected = await inspect(target);
      assert.equal(inspected.Digest, source.manifest.digest);
      assert.deepEqual(inspected.Layers, source.layers.map((l) => l.digest));

      const back = join(work, 'back-copied');
      await copy(target, `oci:${back}:v1`);
      for (const layer of source.layers) {
        assert.equal(sha256(await readFile(join(back, 'blobs', 'sha256', hex(layer.digest)))), layer.digest);
      }
    }));

  test('inspect reports the digest, every tag of the repository and the layers', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      const inspected = await inspect(`${repo()}:oci`);
      assert.equal(inspected.Name, `${registry.host}/skopeo/image`);
      assert.equal(inspected.Digest, source.manifest.digest);
      assert.deepEqual([...inspected.RepoTags].sort(), ['oci', 'v2s2']);
      assert.deepEqual(inspected.Layers, source.layers.map((l) => l.digest));
      assert.equal(inspected.Os, 'linux');

      const config = JSON.parse((await skopeo(['inspect', '--config', '--tls-verify=false', `${repo()}:oci`])).stdout) as {
        rootfs: { diff_ids: string[] };
      };
      assert.deepEqual(config.rootfs.diff_ids, source.diffIds);
    }));

  test('list-tags lists the tags of a repository', { timeout: 60_000 }, () =>
    withServerLogs(registry, async () => {
      const listed = await listTags(repo());
      assert.equal(listed.Repository, `${registry.host}/skopeo/image`);
      assert.deepEqual([...listed.Tags].sort(), ['oci', 'v2s2']);
      assert.deepEqual((await listTags(`docker://${registry.host}/skopeo/copied`)).Tags, ['v1']);
    }));

  test('delete removes a manifest: inspect then fails and its tag is gone', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      await copy(`oci:${srcLayout}:other`, `${repo()}:doomed`, '--format', 'oci');
      assert.equal((await inspect(`${repo()}:doomed`)).Digest, other.manifest.digest);
      assert.deepEqual([...(await listTags(repo())).Tags].sort(), ['doomed', 'oci', 'v2s2']);

      await skopeo(['delete', '--tls-verify=false', `${repo()}:doomed`]);

      await assert.rejects(inspect(`${repo()}:doomed`), (err: Error) => {
        assert.match(err.message, /manifest unknown|not found/i);
        return true;
      });
      await assert.rejects(inspect(`${repo()}@${other.manifest.digest}`), /manifest unknown|not found/i);
      assert.deepEqual([...(await listTags(repo())).Tags].sort(), ['oci', 'v2s2']);
      assert.equal((await inspect(`${repo()}:oci`)).Digest, source.manifest.digest, 'other manifests survive');

      const res = await fetch(`${registry.url}/v2/skopeo/image/manifests/${other.manifest.digest}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(res.status, 404);
    }));

  test('copy --all of an image index stores the index and every platform\'s image', { timeout: 180_000 }, () =>
    withServerLogs(registry, async () => {
      const target = `docker://${registry.host}/skopeo/multi`;
      await copy(`oci:${srcLayout}:multi`, `${target}:v1`, '--all', '--preserve-digests');

      assert.equal((await rawManifest(`${target}:v1`)).toString(), multi.indexBytes.toString());
      for (const image of multi.images) {
        assert.equal((await rawManifest(`${target}@${image.manifest.digest}`)).toString(), image.manifestBytes.toString());
      }
      const res = await fetch(`${registry.url}/v2/skopeo/multi/manifests/v1`, { headers: { accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), OCI_INDEX);
      assert.equal(res.headers.get('docker-content-digest'), multi.index.digest);

      // Without --raw, skopeo reads this machine's platform's config through the index.
      const native = await inspect(`${target}:v1`);
      assert.equal(native.Architecture, ociArchitecture());
      assert.equal(native.Digest, multi.index.digest);

      const back = join(work, 'back-multi');
      await copy(`${target}:v1`, `oci:${back}:v1`, '--all');
      const index = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      assert.deepEqual(index.manifests.map((m) => m.digest), [multi.index.digest]);
      for (const image of multi.images) {
        for (const blob of [image.manifest, image.config, ...image.layers]) {
          assert.equal(sha256(await readFile(join(back, 'blobs', 'sha256', hex(blob.digest)))), blob.digest);
        }
      }

      if (!(await dockerUnavailableReason())) {
        // The docker engine picks its platform's image out of the index.
        const ref = `${registry.host}/skopeo/multi:v1`;
        try {
          await docker(['pull', ref]);
          assert.equal((await docker(['run', '--rm', '--network', 'none', ref])).stdout, `second layer ${nonce}\n`);
        } finally {
          await docker(['rmi', '-f', ref]).catch(() => {});
        }
      }
    }));

  test('copy --dest-compress-format zstd stores zstd layers that copy back intact', { timeout: 120_000 }, () =>
    withServerLogs(registry, async () => {
      // Layers no registry has seen, or skopeo would reuse the gzip blobs it knows are there.
      const layout = join(work, 'zstd-src');
      const fresh = await tarOf([{ type: 'file', name: 'zstd.txt', content: `zstd ${randomUUID()}\n` }]);
      await writeOciLayout(layout, 'v1', [fresh]);
      const target = `docker://${registry.host}/skopeo/zstd:v1`;
      await copy(`oci:${layout}:v1`, target, '--format', 'oci', '--dest-compress-format', 'zstd');
      const manifest = JSON.parse((await rawManifest(target)).toString()) as Manifest;
      assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+zstd']);

      const dir = join(work, 'back-zstd');
      await copy(target, `dir:${dir}`);
      const [layer] = manifest.layers;
      assert.equal(sha256(await readFile(join(dir, hex(layer.digest)))), layer.digest);
    }));

  test('images survive a registry restart on the same storage', { timeout: 120_000 }, async () => {
    const storage = await mkdtemp(join(work, 'restart-'));
    const first = await startRegistry({ storage });
    try {
      await withServerLogs(first, () => copy(`oci:${srcLayout}:v1`, `docker://${first.host}/skopeo/durable:v1`, '--format', 'oci'));
    } finally {
      await first.stop();
    }
    const second = await startRegistry({ storage });
    try {
      await withServerLogs(second, async () => {
        const target = `docker://${second.host}/skopeo/durable`;
        assert.equal((await rawManifest(`${target}:v1`)).toString(), source.manifestBytes.toString());
        assert.deepEqual((await listTags(target)).Tags, ['v1']);
        const back = join(work, 'back-restart');
        await copy(`${target}:v1`, `oci:${back}:v1`);
        for (const blob of [source.config, ...source.layers]) {
          assert.equal(sha256(await readFile(join(back, 'blobs', 'sha256', hex(blob.digest)))), blob.digest);
        }
      });
    } finally {
      await second.stop();
    }
  });

  test('copy between the docker daemon and the registry', { timeout: 240_000 }, async (t) => {
    const unavailable = await dockerUnavailableReason();
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    await withServerLogs(registry, async () => {
      const image = await testImage();
      const fromDaemon = `docker://${registry.host}/skopeo/from-daemon`;
      await copy(`docker-daemon:${image}`, `${fromDaemon}:oci`, '--format', 'oci');
      await copy(`docker-daemon:${image}`, `${fromDaemon}:v2s2`, '--format', 'v2s2');
      assert.equal(JSON.parse((await rawManifest(`${fromDaemon}:oci`)).toString()).mediaType, OCI_MANIFEST);
      assert.equal(JSON.parse((await rawManifest(`${fromDaemon}:v2s2`)).toString()).mediaType, DOCKER_V2_MANIFEST);

      const local = `wharf-test/skopeo-roundtrip:${nonce.slice(0, 8)}`;
      try {
        await copy(`${repo()}:oci`, `docker-daemon:${local}`);
        const out = await docker(['run', '--rm', '--network', 'none', local]);
        assert.equal(out.stdout, `second layer ${nonce}\n`);
      } finally {
        await docker(['rmi', '-f', local]).catch(() => {});
      }
    });
  });
});
