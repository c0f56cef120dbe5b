import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ArchiveBlobError } from '../../builder/export/archive-output.js';
import { ArchiveTagError, archiveTags } from '../../builder/export/archive-tags.js';
import { writeDockerArchive } from '../../builder/export/docker-archive.js';
import { ContentStore } from '../../shared/content-store.js';
import type { Image } from '../../shared/image.js';
import { DOCKER, docker, dockerUnavailableReason } from '../e2e/harness.js';
import { collect, readTar, sha256 } from '../support/tar-reading.js';
import { buildBusyboxImage, busyboxUnavailableReason, MARKER_PATH } from './busybox-image.js';

const noBusybox = await busyboxUnavailableReason();
const noDocker = await dockerUnavailableReason();

let scratch: string;
let store: ContentStore;
let image: Image;
const marker = `wharf docker archive ${randomUUID()}\n`;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-docker-archive-'));
  store = new ContentStore(join(scratch, 'store'));
  if (!noBusybox) image = await buildBusyboxImage(store, marker, 'docker');
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('archive tags', () => {
  test('names are normalised as docker writes RepoTags, duplicates dropped', () => {
    const tags = archiveTags(['foo', 'docker.io/library/foo:latest', 'index.docker.io/user/app:1', 'localhost:5000/x/y', 'ghcr.io/o/r:v2']);
    assert.deepEqual(tags.map((t) => t.familiar), ['foo:latest', 'user/app:1', 'localhost:5000/x/y:latest', 'ghcr.io/o/r:v2']);
    assert.deepEqual(tags.map((t) => t.full), ['docker.io/library/foo:latest', 'docker.io/user/app:1', 'localhost:5000/x/y:latest', 'ghcr.io/o/r:v2']);
    assert.deepEqual(tags.map((t) => t.tag), ['latest', '1', 'latest', 'v2']);
  });

  test('digests and invalid names are refused', () => {
    assert.throws(() => archiveTags([`foo@sha256:${'a'.repeat(64)}`]), ArchiveTagError);
    assert.throws(() => archiveTags(['Foo/Bar:x']), ArchiveTagError);
    assert.throws(() => archiveTags(['foo:bad tag']), ArchiveTagError);
  });
});

describe('docker archive', { skip: noBusybox ?? false }, () => {
  test('manifest.json, an OCI layout and every blob under blobs/sha256, sorted', async () => {
    const path = join(scratch, 'image.tar');
    await writeDockerArchive(image, ['wharf-test/export', 'wharf-test/export:v1'], path);
    const entries = await readTar(await readFile(path));
    const names = entries.map((e) => e.header.name);
    const blobs = [image.digest, image.manifest.config.digest, ...image.layers.map((l) => l.descriptor.digest)].map((d) => `blobs/${d.replace(':', '/')}`).sort();
    assert.deepEqual(names, ['blobs/', 'blobs/sha256/', ...blobs, 'index.json', 'manifest.json', 'oci-layout']);
    const files = new Map(entries.map((e) => [e.header.name, e.body]));
    for (const blob of blobs) assert.equal(sha256(files.get(blob)!), blob.slice('blobs/'.length).replace('/', ':'));
    assert.deepEqual(JSON.parse(files.get('manifest.json')!.toString()), [{
      Config: `blobs/${image.manifest.config.digest.replace(':', '/')}`,
      RepoTags: ['wharf-test/export:latest', 'wharf-test/export:v1'],
      Layers: image.layers.map((l) => `blobs/${l.descriptor.digest.replace(':', '/')}`),
    }]);
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name']), [
      'docker.io/wharf-test/export:latest',
      'docker.io/wharf-test/export:v1',
    ]);
    for (const e of entries) {
      assert.equal(e.header.mtime.getTime(), 0);
      assert.equal(e.header.uid, 0);
    }
    assert.deepEqual((await readdir(scratch)).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });

  test('deterministic: the same image and tags give the same bytes, to a file or a stream', async () => {
    const a = join(scratch, 'a.tar');
    await writeDockerArchive(image, ['same:1'], a);
    const stream = new PassThrough();
    const [bytes] = await Promise.all([collect(stream), writeDockerArchive(image, ['same:1'], stream)]);
    assert.equal(sha256(bytes), sha256(await readFile(a)));
  });

  test('a layer whose bytes do not match its digest fails the export and leaves no file', async () => {
    const [first, ...rest] = image.layers;
    const corrupt: Image = {
      ...image,
      layers: [{ ...first!, descriptor: first!.descriptor, diffId: first!.diffId, open: async () => {
        const s = new PassThrough();
        s.end(Buffer.alloc(first!.descriptor.size));
        return s;
      } }, ...rest],
    };
    const path = join(scratch, 'corrupt.tar');
    await assert.rejects(writeDockerArchive(corrupt, ['x'], path), ArchiveBlobError);
    assert.deepEqual((await readdir(scratch)).filter((n) => n.startsWith('corrupt') || n.endsWith('.tmp')), []);
  });

  test('a layer stream failing midway fails the export', async () => {
    const [first, ...rest] = image.layers;
    const failing: Image = {
      ...image,
      layers: [{ descriptor: first!.descriptor, diffId: first!.diffId, open: async () => {
        const s = new PassThrough();
        s.write(Buffer.alloc(1000));
        setImmediate(() => s.destroy(new Error('connection reset')));
        return s;
      } }, ...rest],
    };
    await assert.rejects(writeDockerArchive(failing, ['x'], join(scratch, 'failing.tar')), /connection reset/);
    assert.deepEqual((await readdir(scratch)).filter((n) => n.startsWith('failing') || n.endsWith('.tmp')), []);
  });
});

describe('docker load of the docker archive', { skip: noBusybox ?? noDocker ?? false }, () => {
  const repository = `wharf-export-test/busybox-${randomUUID().slice(0, 8)}`;
  const loaded = new Set<string>();

  after(async () => {
    for (const ref of loaded) await docker(['rmi', '-f', ref]).catch(() => {});
  });

  test('docker load -i, then docker run reads the file; whiteouts and hardlinks applied', async () => {
    const ref = `${repository}:file`;
    const path = join(scratch, 'load.tar');
    await writeDockerArchive(image, [ref], path);
    loaded.add(ref);
    const { stdout } = await docker(['load', '-i', path]);
    assert.match(stdout, new RegExp(`Loaded image: ${ref}`));
    const id = (await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();
    assert.equal(id, image.manifest.config.digest, 'the image ID is the config digest');
    const out = await docker(['run', '--rm', '--network', 'none', ref, 'cat', `/${MARKER_PATH}`]);
    assert.equal(out.stdout, marker);
    const check = await docker(['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'test ! -e /etc/removed.txt && cat /etc/a-hardlink.txt']);
    assert.equal(check.stdout, marker);
  });

  test('streams straight into docker load’s stdin', async () => {
    const ref = `${repository}:stdin`;
    loaded.add(ref);
    const child = spawn(DOCKER, ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const output = collect(child.stdout);
    const errors = collect(child.stderr);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await writeDockerArchive(image, [ref], child.stdin);
    assert.equal(await exited, 0, (await errors).toString());
    assert.match((await output).toString(), new RegExp(`Loaded image: ${ref}`));
    const out = await docker(['run', '--rm', '--network', 'none', ref, 'cat', `/${MARKER_PATH}`]);
    assert.equal(out.stdout, marker);
  });
});
