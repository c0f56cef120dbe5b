import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { ContentStore } from '../../shared/content-store.js';
import type { Digest } from '../../shared/digest.js';
import { zstdUnavailableReason } from '../../shared/layer/compression.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { layerMediaType, writeLayer } from '../../shared/layer/layer-writer.js';
import { StoredLayer } from '../../shared/layer/stored-layer.js';
import { LayerEntryError, layerTar } from '../../shared/layer/tar-writer.js';
import { MediaType } from '../../shared/media-types.js';
import { collect, readTar, sha256 } from '../support/tar-reading.js';

const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 };

let scratch: string;
let store: ContentStore;
let entries: LayerEntry[];

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'wharf-layer-writer-'));
  store = new ContentStore(join(scratch, 'store'));
  const big = join(scratch, 'big.bin');
  await writeFile(big, Buffer.concat([randomBytes(2 * 1024 * 1024), Buffer.alloc(3 * 1024 * 1024, 7)]));
  entries = [
    { type: 'directory', path: 'app', ...meta, mode: 0o755 },
    { type: 'file', path: 'app/big.bin', ...meta, size: 5 * 1024 * 1024, source: { file: big } },
    { type: 'file', path: 'app/hello.txt', ...meta, size: 6, source: { content: Buffer.from('hello\n') } },
    { type: 'symlink', path: 'app/link', ...meta, mode: 0o777, target: 'hello.txt' },
    { type: 'whiteout', path: 'app/old' },
  ];
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function leftovers(): Promise<string[]> {
  return readdir(join(store.root, 'tmp')).catch(() => []);
}

describe('writeLayer', () => {
  test('gzip: digest and size are the stored blob’s, the diffID is the tar’s', async () => {
    const layer = await writeLayer(entries, store, { compression: 'gzip', format: 'oci' });
    const blob = await store.read(layer.descriptor.digest);
    assert.equal(layer.descriptor.mediaType, MediaType.OciLayerGzip);
    assert.equal(sha256(blob), layer.descriptor.digest);
    assert.equal(blob.length, layer.descriptor.size);
    const tar = gunzipSync(blob);
    assert.equal(sha256(tar), layer.diffId);
    assert.equal(layer.uncompressedSize, tar.length);
    // The tar is exactly what the tar writer produces on its own.
    assert.equal(sha256(await collect(layerTar(entries))), layer.diffId);
    assert.deepEqual((await readTar(tar)).map((e) => e.header.name), ['app/', 'app/.wh.old', 'app/big.bin', 'app/hello.txt', 'app/link']);
    assert.ok((await collect(await layer.open())).equals(blob), 'open() streams the blob');
    assert.deepEqual(await leftovers(), []);
  });

  test('the same entries give the same digests; SOURCE_DATE_EPOCH changes the diffID', async () => {
    const a = await writeLayer(entries, store, { compression: 'gzip', format: 'oci' });
    const b = await writeLayer([...entries].reverse(), store, { compression: 'gzip', format: 'oci' });
    assert.equal(a.descriptor.digest, b.descriptor.digest);
    assert.equal(a.diffId, b.diffId);
    const clamped = await writeLayer(entries, store, { compression: 'gzip', format: 'oci', sourceDateEpoch: 1_000_000 });
    assert.notEqual(clamped.diffId, a.diffId);
    const again = await writeLayer(entries, store, { compression: 'gzip', format: 'oci', sourceDateEpoch: 1_000_000 });
    assert.equal(again.descriptor.digest, clamped.descriptor.digest);
  });

  test('docker format uses the Docker media type for the same bytes', async () => {
    const oci = await writeLayer(entries, store, { compression: 'gzip', format: 'oci' });
    const docker = await writeLayer(entries, store, { compression: 'gzip', format: 'docker' });
    assert.equal(docker.descriptor.mediaType, MediaType.DockerLayerGzip);
    assert.equal(docker.descriptor.digest, oci.descriptor.digest);
  });

  test('none: the blob is the tar, digest equals diffID', async () => {
    const layer = await writeLayer(entries, store, { compression: 'none', format: 'oci' });
    assert.equal(layer.descriptor.mediaType, MediaType.OciLayer);
    assert.equal(layer.descriptor.digest, layer.diffId);
    const blob = await store.read(layer.descriptor.digest);
    assert.equal(sha256(blob), layer.diffId);
    assert.equal(blob.length, layer.descriptor.size);
    assert.equal(layerMediaType('none', 'docker'), MediaType.DockerLayer);
  });

  test('zstd: digest of the blob, diffID of the decompressed tar', async (t) => {
    const reason = await zstdUnavailableReason();
    if (reason) {
      t.skip(reason);
      return;
    }
    const layer = await writeLayer(entries, store, { compression: 'zstd', format: 'oci' });
    assert.equal(layer.descriptor.mediaType, MediaType.OciLayerZstd);
    const path = store.path(layer.descriptor.digest);
    assert.equal(sha256(await readFile(path)), layer.descriptor.digest);
    const { stdout } = await promisify(execFile)('zstd', ['-d', '-c', '-q', path], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(sha256(stdout), layer.diffId);
  });

  test('zstd in a Docker image is refused with a reason', async () => {
    await assert.rejects(writeLayer(entries, store, { compression: 'zstd', format: 'docker' }), /OCI format/);
  });

  test('a failing layer leaves nothing in the store', async () => {
    const missing: LayerEntry[] = [{ type: 'file', path: 'f', ...meta, size: 10, source: { file: join(scratch, 'does-not-exist') } }];
    await assert.rejects(writeLayer(missing, store, { compression: 'gzip', format: 'oci' }), /ENOENT/);
    assert.deepEqual(await leftovers(), []);
    await assert.rejects(writeLayer([{ type: 'whiteout', path: '/x' }], store, { compression: 'gzip', format: 'oci' }), LayerEntryError);
  });

  test('an empty layer is a valid layer', async () => {
    const layer = await writeLayer([], store, { compression: 'gzip', format: 'oci' });
    const tar = gunzipSync(await store.read(layer.descriptor.digest));
    assert.ok(tar.equals(Buffer.alloc(1024)));
    assert.equal(layer.diffId, sha256(Buffer.alloc(1024)));
  });

  test('StoredLayer.fromStore checks the blob is there with its size', async () => {
    const layer = await writeLayer(entries, store, { compression: 'gzip', format: 'oci' });
    const again = await StoredLayer.fromStore(store, layer.descriptor, layer.diffId);
    assert.equal(again.descriptor.digest, layer.descriptor.digest);
    await assert.rejects(StoredLayer.fromStore(store, { ...layer.descriptor, size: 1 }, layer.diffId), /bytes in the content store/);
    const absent = `sha256:${'0'.repeat(64)}` as Digest;
    await assert.rejects(StoredLayer.fromStore(store, { ...layer.descriptor, digest: absent }, layer.diffId), /not in the content store/);
  });
});
