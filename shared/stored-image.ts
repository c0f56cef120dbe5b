import type { ContentStore } from './content-store.js';
import type { Digest } from './digest.js';
import type { Image } from './image.js';
import type { ImageConfig } from './image-config.js';
import { StoredLayer } from './layer/stored-layer.js';
import { isIndexMediaType, manifestMediaTypeOf } from './media-types.js';
import type { ImageManifest } from './oci.js';

/**
 * The image whose manifest has `digest`, read from a ContentStore that holds its manifest, config
 * and layers (as a pull leaves them). Layers are StoredLayers; a missing or wrong-sized blob is an error here, not later.
 */
export async function readStoredImage(store: ContentStore, digest: Digest): Promise<Image> {
  const rawManifest = await store.read(digest);
  const manifest = JSON.parse(rawManifest.toString('utf8')) as ImageManifest;
  const mediaType = manifestMediaTypeOf(manifest);
  if (isIndexMediaType(mediaType)) throw new Error(`${digest} is an image index, not an image manifest`);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new Error(`manifest ${digest} has no config or no layers list`);

  const rawConfig = await store.read(manifest.config.digest);
  const config = JSON.parse(rawConfig.toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new Error(`image ${digest}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
  }
  const layers = await Promise.all(manifest.layers.map((descriptor, i) => StoredLayer.fromStore(store, descriptor, diffIds[i]!)));
  return { manifest, rawManifest, digest, mediaType, config, rawConfig, layers };
}
