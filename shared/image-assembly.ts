import type { ContentStore } from './content-store.js';
import type { Image, Layer } from './image.js';
import type { ImageConfig } from './image-config.js';
import type { ImageFormat } from './layer/layer-writer.js';
import { MediaType } from './media-types.js';
import type { Descriptor, ImageManifest } from './oci.js';

// Key order of the config JSON, as BuildKit writes it: top-level keys sorted (it patches the
// config as a map), Go struct order inside `config`, `rootfs`, `history` entries and Healthcheck,
// Go map keys (ExposedPorts, Volumes, Labels) sorted. Unknown keys follow, sorted.
const CONTAINER_CONFIG_ORDER = [
  'User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped',
  'Healthcheck', 'OnBuild', 'Shell',
];
const HEALTHCHECK_ORDER = ['Test', 'Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'];
const ROOTFS_ORDER = ['type', 'diff_ids'];
const HISTORY_ORDER = ['created', 'created_by', 'author', 'comment', 'empty_layer'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Objects with their keys sorted, at every depth (how Go writes maps). */
function sortedDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortedDeep(value[key])]));
}

/** A struct: known fields in declaration order, then unknown ones sorted; absent and null fields omitted. */
function struct(value: unknown, order: readonly string[], field: (key: string, v: unknown) => unknown = (_k, v) => sortedDeep(v)): unknown {
  if (!isObject(value)) return sortedDeep(value);
  const known = order.filter((key) => key in value);
  const rest = Object.keys(value).filter((key) => !order.includes(key)).sort();
  const out: Json = {};
  for (const key of [...known, ...rest]) {
    if (value[key] === undefined || value[key] === null) continue;
    out[key] = field(key, value[key]);
  }
  return out;
}

function orderedConfig(config: ImageConfig): unknown {
  return struct(config, [], (key, value) => {
    switch (key) {
      case 'config':
        return struct(value, CONTAINER_CONFIG_ORDER, (k, v) => (k === 'Healthcheck' ? struct(v, HEALTHCHECK_ORDER) : sortedDeep(v)));
      case 'rootfs':
        return struct(value, ROOTFS_ORDER);
      case 'history':
        return Array.isArray(value) ? value.map((entry) => struct(entry, HISTORY_ORDER)) : sortedDeep(value);
      default:
        return sortedDeep(value);
    }
  });
}

/** JSON as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped. */
function goJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The config's bytes, stable: the same config always gives the same image ID. */
export function serializeImageConfig(config: ImageConfig): Buffer {
  return Buffer.from(goJson(orderedConfig(config)));
}

const TO_OCI: Record<string, string> = {
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayer]: MediaType.OciLayer,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};
const TO_DOCKER: Record<string, string> = Object.fromEntries(Object.entries(TO_OCI).map(([docker, oci]) => [oci, docker]));

/** Raised when layers cannot be listed in the requested format (zstd in a Docker manifest). */
export class ImageFormatError extends Error {}

/** A layer's media type as a manifest of `format` lists it (the same bytes under the other format's name). */
export function layerMediaTypeIn(mediaType: string, format: ImageFormat): string {
  if (format === 'oci') return TO_OCI[mediaType] ?? mediaType;
  if (mediaType === MediaType.OciLayerZstd || mediaType.endsWith('+zstd')) {
    throw new ImageFormatError(`a Docker schema 2 manifest cannot list a zstd layer (${mediaType}): use the OCI format`);
  }
  return TO_DOCKER[mediaType] ?? mediaType;
}

function descriptorOf(layer: Layer, format: ImageFormat): Descriptor {
  const d = layer.descriptor;
  return {
    mediaType: layerMediaTypeIn(d.mediaType, format),
    digest: d.digest,
    size: d.size,
    ...(d.urls ? { urls: d.urls } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
  };
}

/** The config of an image of these layers (rootfs.diff_ids set from them) and its bytes, whose digest is the image ID. */
export function imageConfigOf(config: ImageConfig, layers: readonly Pick<Layer, 'diffId'>[]): { config: ImageConfig; rawConfig: Buffer } {
  const full: ImageConfig = { ...config, rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) } };
  return { config: full, rawConfig: serializeImageConfig(full) };
}

/**
 * Makes an image of a config and layers: the config's rootfs.diff_ids are set from the layers,
 * the config and manifest are serialised deterministically and written into the store, and the
 * returned Image's layers carry the descriptors the manifest lists.
 */
export async function assembleImage(config: ImageConfig, layers: readonly Layer[], store: ContentStore, format: ImageFormat): Promise<Image> {
  const { config: fullConfig, rawConfig } = imageConfigOf(config, layers);
  const configDigest = await store.writeBuffer(rawConfig);

  const imageLayers = layers.map((layer): Layer => {
    const descriptor = descriptorOf(layer, format);
    if (descriptor.mediaType === layer.descriptor.mediaType) return layer;
    return { descriptor, diffId: layer.diffId, open: () => layer.open() };
  });
  const mediaType = format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig, digest: configDigest, size: rawConfig.length },
    layers: imageLayers.map((layer) => descriptorOf(layer, format)),
  };
  // Indented as BuildKit writes manifests; the bytes, not the formatting, define the digest.
  const rawManifest = Buffer.from(goJson(manifest, 2));
  const digest = await store.writeBuffer(rawManifest);
  return { manifest, rawManifest, digest, mediaType, config: fullConfig, rawConfig, layers: imageLayers };
}
