import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline as pipe, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContentStore } from '../content-store.js';
import { Digester, type Digest } from '../digest.js';
import type { Layer } from '../image.js';
import type { Descriptor } from '../oci.js';
import { MediaType } from '../media-types.js';
import { compressionOfMediaType, createCompressor, type Compression } from './compression.js';
import type { LayerEntry } from './layer-entry.js';
import { StoredLayer } from './stored-layer.js';
import { layerTar } from './tar-writer.js';

/** Which media types an image uses: OCI's or Docker schema 2's. */
export type ImageFormat = 'oci' | 'docker';

/** Options of writeLayer(). */
export interface WriteLayerOptions {
  readonly compression: Compression;
  readonly format: ImageFormat;
  /** SOURCE_DATE_EPOCH (seconds): mtimes later than this are clamped to it. */
  readonly sourceDateEpoch?: number;
  /** Compression level (gzip 0–9, default 6; zstd 1–19, default 3). */
  readonly level?: number;
}

/** The media type of a layer blob with this compression, in this format. */
export function layerMediaType(compression: Compression, format: ImageFormat): string {
  if (format === 'oci') {
    return { gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer }[compression];
  }
  if (compression === 'zstd') {
    throw new RangeError('Docker schema 2 has no media type for zstd layers: use the OCI format for zstd compression');
  }
  return compression === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer;
}

/** A pass-through stage that hashes (sha256) and counts what flows through it. */
function meter(): Transform & { bytes: number; digester: Digester } {
  const digester = Digester.create();
  const stage = new Transform({
    readableHighWaterMark: 1024 * 1024,
    writableHighWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, done) {
      digester.update(chunk);
      stage.bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { bytes: number; digester: Digester };
  stage.bytes = 0;
  stage.digester = digester;
  return stage;
}

/** Compresses `tar` into the store as one blob, hashed on the way; its descriptor. */
async function storeCompressed(tar: Readable, store: ContentStore, options: Omit<WriteLayerOptions, 'sourceDateEpoch'>): Promise<Descriptor> {
  const mediaType = layerMediaType(options.compression, options.format);
  const compressor = await createCompressor(options.compression, options.level !== undefined ? { level: options.level } : {});
  const blobMeter = meter();
  const temporary = await store.temporaryPath();
  try {
    await pipeline(tar, compressor, blobMeter, createWriteStream(temporary));
    const digest = blobMeter.digester.digest();
    await store.adopt(temporary, digest);
    return { mediaType, digest, size: blobMeter.bytes };
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * Writes the entries as one layer into the store, in a single streaming pass: the tar is hashed
 * (the diffID), compressed, hashed again (the blob digest) and written to a temporary file that is
 * moved into the store once complete. Invalid entries throw LayerEntryError before anything is written.
 */
export async function writeLayer(entries: readonly LayerEntry[], store: ContentStore, options: WriteLayerOptions): Promise<StoredLayer> {
  const tarMeter = meter();
  const tar = layerTar(entries, { sourceDateEpoch: options.sourceDateEpoch });
  if (options.compression !== 'none') {
    // pipeline() with a callback carries a failure of the tar into the stream it returns.
    const descriptor = await storeCompressed(pipe(tar, tarMeter, () => {}), store, options);
    return new StoredLayer(store, descriptor, tarMeter.digester.digest(), tarMeter.bytes);
  }
  const temporary = await store.temporaryPath();
  try {
    await pipeline(tar, tarMeter, createWriteStream(temporary));
    const diffId = tarMeter.digester.digest();
    await store.adopt(temporary, diffId);
    return new StoredLayer(store, { mediaType: layerMediaType('none', options.format), digest: diffId, size: tarMeter.bytes }, diffId, tarMeter.bytes);
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * The diffID and size of the tar the entries make, without writing it anywhere: for a layer whose
 * files stay where they are (a RUN's snapshot) and whose tar is made again when it is exported.
 */
export async function layerTarDigest(entries: readonly LayerEntry[], options: Pick<WriteLayerOptions, 'sourceDateEpoch'> = {}): Promise<{ diffId: Digest; size: number }> {
  const tarMeter = meter();
  await pipeline(layerTar(entries, { sourceDateEpoch: options.sourceDateEpoch }), tarMeter, new Writable({ write: (_chunk, _encoding, done) => done() }));
  return { diffId: tarMeter.digester.digest(), size: tarMeter.bytes };
}

/**
 * Compresses an uncompressed layer into the store as a blob of `compression`: the builder keeps its
 * own layers as plain tars and compresses each only when an output needs it (as BuildKit does).
 */
export async function compressLayer(layer: Layer, store: ContentStore, options: Omit<WriteLayerOptions, 'sourceDateEpoch'>): Promise<StoredLayer> {
  if (compressionOfMediaType(layer.descriptor.mediaType) !== 'none') throw new Error(`layer ${layer.descriptor.digest} is already compressed (${layer.descriptor.mediaType})`);
  return new StoredLayer(store, await storeCompressed(await layer.open(), store, options), layer.diffId, layer.descriptor.size);
}
