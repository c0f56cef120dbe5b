import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContentStore } from '../../shared/content-store.js';
import type { Digest } from '../../shared/digest.js';
import type { Layer } from '../../shared/image.js';
import type { ImageConfig } from '../../shared/image-config.js';
import { assembleImage, ImageFormatError, serializeImageConfig } from '../../shared/image-assembly.js';
import { writeLayer } from '../../shared/layer/layer-writer.js';
import { MediaType } from '../../shared/media-types.js';
import { sha256 } from '../support/tar-reading.js';

let scratch: string;
let store: ContentStore;
let layer: Layer;

const config: ImageConfig = {
  os: 'linux',
  architecture: 'amd64',
  created: '2024-01-01T00:00:00Z',
  config: {
    Cmd: ['/bin/sh', '-c', 'echo a > b && true'],
    Env: ['PATH=/usr/bin:/bin'],
    Labels: { zeta: '1', alpha: '2' },
    User: 'app',
    WorkingDir: '/app',
    ExposedPorts: { '8080/tcp': {}, '443/tcp': {} },
    Healthcheck: { Retries: 3, Test: ['CMD', 'true'], Interval: 1_000_000_000 },
    Entrypoint: null,
  },
  rootfs: { type: 'layers', diff_ids: [] },
  history: [{ created_by: 'COPY . /app', created: '2024-01-01T00:00:00Z', comment: 'wharf' }],
};

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-image-assembly-'));
  store = new ContentStore(join(scratch, 'store'));
  layer = await writeLayer([{ type: 'file', path: 'hello', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 2, source: { content: Buffer.from('hi') } }], store, { compression: 'gzip', format: 'oci' });
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('image config serialisation', () => {
  test('keys in BuildKit’s order: top level sorted, Go struct order inside, maps sorted; null omitted', () => {
    const json = serializeImageConfig(config).toString();
    assert.equal(
      json,
      '{"architecture":"amd64","config":{"User":"app","ExposedPorts":{"443/tcp":{},"8080/tcp":{}},"Env":["PATH=/usr/bin:/bin"],' +
        '"Cmd":["/bin/sh","-c","echo a \\u003e b \\u0026\\u0026 true"],"WorkingDir":"/app","Labels":{"alpha":"2","zeta":"1"},' +
        '"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Retries":3}},"created":"2024-01-01T00:00:00Z",' +
        '"history":[{"created":"2024-01-01T00:00:00Z","created_by":"COPY . /app","comment":"wharf"}],"os":"linux",' +
        '"rootfs":{"type":"layers","diff_ids":[]}}',
    );
    assert.deepEqual(JSON.parse(json).config.Cmd, config.config.Cmd);
  });

  test('the same config written in any key order gives the same bytes', () => {
    const shuffled = Object.fromEntries(Object.entries(config).reverse()) as unknown as ImageConfig;
    assert.ok(serializeImageConfig(shuffled).equals(serializeImageConfig(config)));
  });
});

describe('assembleImage', () => {
  test('OCI: config and manifest are in the store; diff_ids come from the layers', async () => {
    const image = await assembleImage(config, [layer], store, 'oci');
    assert.equal(image.mediaType, MediaType.OciManifest);
    assert.equal(image.digest, sha256(image.rawManifest));
    assert.ok((await store.read(image.digest)).equals(image.rawManifest));
    assert.ok((await store.read(image.manifest.config.digest)).equals(image.rawConfig));
    assert.deepEqual(JSON.parse(image.rawManifest.toString()), image.manifest);
    assert.equal(image.manifest.config.mediaType, MediaType.OciConfig);
    assert.equal(image.manifest.config.size, image.rawConfig.length);
    assert.deepEqual(image.manifest.layers, [layer.descriptor]);
    assert.deepEqual(JSON.parse(image.rawConfig.toString()).rootfs, { type: 'layers', diff_ids: [layer.diffId] });
    assert.deepEqual(image.config.rootfs.diff_ids, [layer.diffId]);
    assert.equal(image.layers[0], layer);
  });

  test('Docker: Docker media types, layers relabelled for the same bytes', async () => {
    const image = await assembleImage(config, [layer, layer], store, 'docker');
    assert.equal(image.mediaType, MediaType.DockerManifest);
    assert.equal(JSON.parse(image.rawManifest.toString()).mediaType, MediaType.DockerManifest);
    assert.equal(image.manifest.config.mediaType, MediaType.DockerConfig);
    assert.deepEqual(image.manifest.layers.map((l) => l.mediaType), [MediaType.DockerLayerGzip, MediaType.DockerLayerGzip]);
    assert.equal(image.layers[0]!.descriptor.mediaType, MediaType.DockerLayerGzip);
    assert.equal(image.layers[0]!.descriptor.digest, layer.descriptor.digest);
  });

  test('deterministic: the same inputs give the same image digest', async () => {
    const a = await assembleImage(config, [layer], store, 'oci');
    const b = await assembleImage({ ...config }, [layer], store, 'oci');
    assert.equal(a.digest, b.digest);
  });

  test('a zstd layer cannot go in a Docker manifest', async () => {
    const zstd: Layer = { ...layer, descriptor: { ...layer.descriptor, mediaType: MediaType.OciLayerZstd }, diffId: layer.diffId as Digest, open: () => layer.open() };
    await assert.rejects(assembleImage(config, [zstd], store, 'docker'), ImageFormatError);
  });
});
