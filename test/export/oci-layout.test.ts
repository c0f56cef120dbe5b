import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeOciLayoutArchive } from '../../builder/export/oci-layout.js';
import { ContentStore } from '../../shared/content-store.js';
import type { Image } from '../../shared/image.js';
import { zstdUnavailableReason } from '../../shared/layer/compression.js';
import { MediaType } from '../../shared/media-types.js';
import { docker, dockerUnavailableReason, hasCommand, run } from '../e2e/harness.js';
import { readTar, sha256 } from '../support/tar-reading.js';
import { buildBusyboxImage, busyboxUnavailableReason, MARKER_PATH } from './busybox-image.js';

const noBusybox = await busyboxUnavailableReason();
const noSkopeo = (await hasCommand('skopeo')) ? undefined : 'skopeo not installed';
const noDocker = await dockerUnavailableReason();

let scratch: string;
let store: ContentStore;
let image: Image;
const marker = `wharf oci layout ${randomUUID()}\n`;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-oci-layout-'));
  store = new ContentStore(join(scratch, 'store'));
  if (!noBusybox) image = await buildBusyboxImage(store, marker, 'oci');
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface SkopeoInspect {
  Digest: string;
  Layers: string[];
  Architecture: string;
  Os: string;
}

describe('OCI layout archive', { skip: noBusybox ?? false }, () => {
  test('oci-layout, index.json with the names, blobs; no manifest.json', async () => {
    const path = join(scratch, 'layout.tar');
    await writeOciLayoutArchive(image, ['wharf-test/oci:1.0', 'ghcr.io/o/r'], path);
    const entries = await readTar(await readFile(path));
    const files = new Map(entries.map((e) => [e.header.name, e.body]));
    assert.equal(files.has('manifest.json'), false);
    assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MediaType.OciIndex);
    assert.deepEqual(index.manifests, [
      {
        mediaType: MediaType.OciManifest, digest: image.digest, size: image.rawManifest.length,
        annotations: { 'io.containerd.image.name': 'docker.io/wharf-test/oci:1.0', 'org.opencontainers.image.ref.name': '1.0' },
      },
      {
        mediaType: MediaType.OciManifest, digest: image.digest, size: image.rawManifest.length,
        annotations: { 'io.containerd.image.name': 'ghcr.io/o/r:latest', 'org.opencontainers.image.ref.name': 'latest' },
      },
    ]);
    for (const [name, body] of files) {
      if (name.startsWith('blobs/sha256/') && name.length > 'blobs/sha256/'.length) assert.equal(sha256(body), name.replace('blobs/sha256/', 'sha256:'));
    }
  });

  test('without tags the index lists the manifest unnamed', async () => {
    const path = join(scratch, 'untagged.tar');
    await writeOciLayoutArchive(image, [], path);
    const files = new Map((await readTar(await readFile(path))).map((e) => [e.header.name, e.body]));
    assert.deepEqual(JSON.parse(files.get('index.json')!.toString()).manifests, [{ mediaType: MediaType.OciManifest, digest: image.digest, size: image.rawManifest.length }]);
  });

  test('deterministic: written twice, the same bytes', async () => {
    const a = join(scratch, 'a.tar');
    const b = join(scratch, 'b.tar');
    await writeOciLayoutArchive(image, ['x:1'], a);
    await writeOciLayoutArchive(image, ['x:1'], b);
    assert.equal(sha256(await readFile(a)), sha256(await readFile(b)));
  });
});

describe('skopeo reads the archives', { skip: noBusybox ?? noSkopeo ?? false }, () => {
  async function inspect(transport: string): Promise<SkopeoInspect> {
    return JSON.parse((await run('skopeo', ['inspect', transport])).stdout) as SkopeoInspect;
  }

  test('skopeo inspect oci-archive: digest, layers and platform match', async () => {
    const path = join(scratch, 'skopeo.tar');
    await writeOciLayoutArchive(image, ['wharf-test/skopeo:v1'], path);
    for (const transport of [`oci-archive:${path}`, `oci-archive:${path}:v1`]) {
      const info = await inspect(transport);
      assert.equal(info.Digest, image.digest, transport);
      assert.deepEqual(info.Layers, image.layers.map((l) => l.descriptor.digest));
      assert.equal(info.Os, 'linux');
      assert.equal(info.Architecture, image.config.architecture);
    }
    const raw = (await run('skopeo', ['inspect', '--raw', `oci-archive:${path}`])).stdout;
    assert.equal(sha256(Buffer.from(raw)), image.digest, 'skopeo sees the manifest bytes unchanged');
    const config = (await run('skopeo', ['inspect', '--config', '--raw', `oci-archive:${path}`])).stdout;
    assert.equal(sha256(Buffer.from(config)), image.manifest.config.digest);
  });

  test('skopeo copies the archive into a directory, verifying every blob', async () => {
    const path = join(scratch, 'copy.tar');
    await writeOciLayoutArchive(image, ['wharf-test/copy:1'], path);
    const dir = join(scratch, 'copied');
    await run('skopeo', ['copy', '--quiet', `oci-archive:${path}:1`, `dir:${dir}`]);
    assert.equal(sha256(await readFile(join(dir, 'manifest.json'))), image.digest);
  });

  test('a zstd image is read too', async (t) => {
    const reason = await zstdUnavailableReason();
    if (reason) {
      t.skip(reason);
      return;
    }
    const zstdImage = await buildBusyboxImage(store, marker, 'oci', 'zstd');
    assert.deepEqual(zstdImage.manifest.layers.map((l) => l.mediaType), [MediaType.OciLayerZstd, MediaType.OciLayerZstd]);
    const path = join(scratch, 'zstd.tar');
    await writeOciLayoutArchive(zstdImage, ['wharf-test/zstd:1'], path);
    const info = await inspect(`oci-archive:${path}`);
    assert.equal(info.Digest, zstdImage.digest);
    assert.deepEqual(info.Layers, zstdImage.layers.map((l) => l.descriptor.digest));
  });

  test('skopeo inspect docker-archive: reads the docker archive (compressed layers)', async () => {
    const { writeDockerArchive } = await import('../../builder/export/docker-archive.js');
    const dockerImage = await buildBusyboxImage(store, marker, 'docker');
    const path = join(scratch, 'docker.tar');
    await writeDockerArchive(dockerImage, ['wharf-test/docker:1'], path);
    const info = await inspect(`docker-archive:${path}`);
    assert.deepEqual(info.Layers.length, dockerImage.layers.length);
    // The docker archive is an OCI layout as well.
    assert.equal((await inspect(`oci-archive:${path}`)).Digest, dockerImage.digest);
  });
});

/** Docker loads OCI layouts (index.json without manifest.json) from engine 25 on. */
async function dockerOciLoadUnavailableReason(): Promise<string | undefined> {
  if (noDocker) return noDocker;
  const version = (await docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim();
  const major = Number.parseInt(version, 10);
  return major >= 25 ? undefined : `docker engine ${version} cannot load an OCI layout without manifest.json (needs ≥ 25)`;
}

describe('docker load of the OCI archive', async () => {
  const reason = noBusybox ?? (await dockerOciLoadUnavailableReason());
  const ref = `wharf-export-test/oci-${randomUUID().slice(0, 8)}:1`;

  after(async () => {
    if (!reason) await docker(['rmi', '-f', ref]).catch(() => {});
  });

  test('docker load -i, then docker run reads the file', { skip: reason ?? false }, async () => {
    const path = join(scratch, 'docker-oci.tar');
    await writeOciLayoutArchive(image, [ref], path);
    await docker(['load', '-i', path]);
    const out = await docker(['run', '--rm', '--network', 'none', ref, 'cat', `/${MARKER_PATH}`]);
    assert.equal(out.stdout, marker);
  });
});
