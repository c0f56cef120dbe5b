import type { ContentStore } from '../../shared/content-store.js';
import type { Digest } from '../../shared/digest.js';
import type { Layer } from '../../shared/image.js';
import { compressionOfMediaType, type Compression } from '../../shared/layer/compression.js';
import { compressLayer } from '../../shared/layer/layer-writer.js';
import { StoredLayer } from '../../shared/layer/stored-layer.js';
import type { BuildCache } from '../cache/build-cache.js';

/**
 * The layers an image is exported with. The builder stores the layers it makes as plain tars (a
 * build with no output never compresses anything, as BuildKit's); an output, a push or a cache
 * export asks for the compressed form, made once per layer and compression and then remembered in
 * the build cache. Pulled layers, already compressed, are exported as they are.
 */
export class CompressedLayers {
  private readonly pending = new Map<Digest, Promise<Layer>>();

  constructor(
    private readonly store: ContentStore,
    private readonly cache: BuildCache,
    private readonly compression: Compression,
  ) {}

  /** `layer` as outputs carry it. */
  of(layer: Layer): Promise<Layer> {
    if (this.compression === 'none' || compressionOfMediaType(layer.descriptor.mediaType) !== 'none') return Promise.resolve(layer);
    let compressed = this.pending.get(layer.diffId);
    if (!compressed) {
      compressed = this.compress(layer);
      this.pending.set(layer.diffId, compressed);
    }
    return compressed;
  }

  private async compress(layer: Layer): Promise<Layer> {
    const known = this.cache.compressedLayer(layer.diffId, this.compression);
    if (known && (await this.store.size(known.digest)) === known.size) return new StoredLayer(this.store, known, layer.diffId, layer.descriptor.size);
    const compressed = await compressLayer(layer, this.store, { compression: this.compression, format: 'oci' });
    this.cache.putCompressedLayer(layer.diffId, this.compression, compressed.descriptor);
    return compressed;
  }
}
