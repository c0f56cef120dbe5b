import { DigestParseError, digestOf, parseDigest, type Digest } from '../../../shared/digest.js';
import { MediaType } from '../../../shared/media-types.js';
import type { Descriptor, ImageManifest } from '../../../shared/oci.js';
import type { CachedStep, KeyedStep } from '../build-cache.js';

/** The artifactType of a build cache manifest: what `--cache-from` checks before trusting one. */
export const BUILD_CACHE_ARTIFACT_TYPE = 'application/vnd.wharf.build-cache.v1+json';

/**
 * The media type of its config blob. A dedicated type rather than the artifact type, as OCI 1.1
 * advises; registries that check config types (none we know of for OCI manifests) would refuse either.
 */
export const BUILD_CACHE_CONFIG_TYPE = 'application/vnd.wharf.build-cache.config.v1+json';

/**
 * The config blob: every step by cache key with its history time and, when it made one, the index
 * of its layer in the manifest's `layers` (whose diff IDs `diffIds` lists in the same order).
 */
export interface BuildCacheConfig {
  readonly diffIds: readonly Digest[];
  readonly steps: readonly { readonly key: Digest; readonly created: string; readonly layer?: number }[];
}

/** A cache manifest and its config, as pushed. */
export interface EncodedBuildCache {
  readonly manifest: ImageManifest;
  readonly rawManifest: Buffer;
  readonly digest: Digest;
  readonly rawConfig: Buffer;
  /** The distinct layers the steps made, in manifest order. */
  readonly layers: readonly NonNullable<CachedStep['layer']>[];
}

/** Why bytes fetched as a build cache are not one. */
export class BuildCacheFormatError extends Error {}

/** Encodes steps as a cache manifest: one layer entry per distinct blob, in the order steps first use them. */
export function encodeBuildCache(steps: readonly KeyedStep[]): EncodedBuildCache {
  const layers: NonNullable<CachedStep['layer']>[] = [];
  const indexOf = new Map<Digest, number>();
  const entries = steps.map(({ key, created, layer }) => {
    if (!layer) return { key, created };
    let index = indexOf.get(layer.descriptor.digest);
    if (index === undefined) {
      index = layers.push(layer) - 1;
      indexOf.set(layer.descriptor.digest, index);
    }
    return { key, created, layer: index };
  });
  const config: BuildCacheConfig = { diffIds: layers.map((layer) => layer.diffId), steps: entries };
  const rawConfig = Buffer.from(JSON.stringify(config));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: BUILD_CACHE_ARTIFACT_TYPE,
    config: { mediaType: BUILD_CACHE_CONFIG_TYPE, digest: digestOf(rawConfig), size: rawConfig.length },
    layers: layers.map(({ descriptor }) => ({ mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size })),
  };
  const rawManifest = Buffer.from(JSON.stringify(manifest));
  return { manifest, rawManifest, digest: digestOf(rawManifest), rawConfig, layers };
}

/** The manifest's config and layer descriptors, after checking it is a build cache; throws BuildCacheFormatError. */
export function decodeBuildCacheManifest(rawManifest: Buffer): { config: Descriptor; layers: readonly Descriptor[] } {
  const manifest = parseJson(rawManifest, 'the manifest') as Partial<ImageManifest>;
  if (manifest.artifactType !== BUILD_CACHE_ARTIFACT_TYPE && manifest.config?.mediaType !== BUILD_CACHE_CONFIG_TYPE) {
    throw new BuildCacheFormatError(`not a Wharf build cache (artifactType ${JSON.stringify(manifest.artifactType ?? manifest.config?.mediaType ?? null)})`);
  }
  if (!isDescriptor(manifest.config) || !Array.isArray(manifest.layers) || !manifest.layers.every(isDescriptor)) {
    throw new BuildCacheFormatError('the manifest has no valid config or layers list');
  }
  return { config: manifest.config, layers: manifest.layers };
}

/** The steps a cache config lists, by key, with their layers' descriptors; throws BuildCacheFormatError. */
export function decodeBuildCacheConfig(rawConfig: Buffer, layers: readonly Descriptor[]): Map<Digest, CachedStep> {
  const config = parseJson(rawConfig, 'the config') as Partial<BuildCacheConfig>;
  if (!Array.isArray(config.diffIds) || config.diffIds.length !== layers.length || !config.diffIds.every(isDigest)) {
    throw new BuildCacheFormatError(`the config lists ${Array.isArray(config.diffIds) ? config.diffIds.length : 'no'} valid diffIds for ${layers.length} layers`);
  }
  if (!Array.isArray(config.steps)) throw new BuildCacheFormatError('the config has no steps list');
  const steps = new Map<Digest, CachedStep>();
  for (const entry of config.steps as unknown[]) {
    const { key, created, layer } = (entry ?? {}) as { key?: unknown; created?: unknown; layer?: unknown };
    if (!isDigest(key) || typeof created !== 'string') throw new BuildCacheFormatError(`a step has no valid key or created time: ${JSON.stringify(entry)}`);
    if (layer !== undefined && !(Number.isInteger(layer) && (layer as number) >= 0 && (layer as number) < layers.length)) {
      throw new BuildCacheFormatError(`step ${key} names layer ${JSON.stringify(layer)} of ${layers.length}`);
    }
    const index = layer as number | undefined;
    steps.set(key, index === undefined ? { created } : { created, layer: { descriptor: layers[index]!, diffId: config.diffIds[index]! } });
  }
  return steps;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {
    // Reported below, as for any other non-object.
  }
  throw new BuildCacheFormatError(`${what} is not a JSON object`);
}

function isDigest(value: unknown): value is Digest {
  try {
    return typeof value === 'string' && parseDigest(value) === value;
  } catch (error) {
    if (error instanceof DigestParseError) return false;
    throw error;
  }
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | undefined;
  return typeof d?.mediaType === 'string' && isDigest(d.digest) && Number.isSafeInteger(d.size) && (d.size as number) >= 0;
}
