import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyedStep } from '../../builder/cache/build-cache.js';
import { cacheKey } from '../../builder/cache/cache-key.js';
import { cacheStepsFor } from '../../builder/cache/registry/cache-export.js';
import {
  BUILD_CACHE_ARTIFACT_TYPE,
  BUILD_CACHE_CONFIG_TYPE,
  BuildCacheFormatError,
  decodeBuildCacheConfig,
  decodeBuildCacheManifest,
  encodeBuildCache,
} from '../../builder/cache/registry/cache-manifest.js';
import { digestOf } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';

/** A step that made a layer whose blob is `blob`. */
function layerStep(name: string, blob: string): KeyedStep {
  return {
    key: cacheKey(name),
    created: '2024-05-01T12:00:00Z',
    layer: { descriptor: { mediaType: MediaType.OciLayerGzip, digest: digestOf(Buffer.from(blob)), size: blob.length }, diffId: digestOf(Buffer.from(`tar of ${blob}`)) },
  };
}

/** A step that made none (ENV and the like). */
function configStep(name: string): KeyedStep {
  return { key: cacheKey(name), created: '2024-05-01T12:00:01Z' };
}

describe('cache manifest encoding', () => {
  const steps = [layerStep('copy a', 'a'), configStep('env'), layerStep('copy b', 'b'), layerStep('copy a again', 'a')];

  test('an OCI manifest with the build-cache artifactType, its config typed and digested', () => {
    const encoded = encodeBuildCache(steps);
    const manifest = JSON.parse(encoded.rawManifest.toString()) as Record<string, unknown>;
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MediaType.OciManifest);
    assert.equal(manifest.artifactType, BUILD_CACHE_ARTIFACT_TYPE);
    assert.deepEqual(manifest.config, { mediaType: BUILD_CACHE_CONFIG_TYPE, digest: digestOf(encoded.rawConfig), size: encoded.rawConfig.length });
    assert.equal(encoded.digest, digestOf(encoded.rawManifest));
  });

  test('layers are the distinct blobs in first-use order; steps name them by index, or none', () => {
    const encoded = encodeBuildCache(steps);
    assert.deepEqual(encoded.manifest.layers.map((layer) => layer.digest), [steps[0]!.layer!.descriptor.digest, steps[2]!.layer!.descriptor.digest]);
    const config = JSON.parse(encoded.rawConfig.toString()) as { diffIds: string[]; steps: { key: string; created: string; layer?: number }[] };
    assert.deepEqual(config.diffIds, [steps[0]!.layer!.diffId, steps[2]!.layer!.diffId]);
    assert.deepEqual(config.steps.map((step) => step.layer), [0, undefined, 1, 0]);
    assert.deepEqual(config.steps.map((step) => step.key), steps.map((step) => step.key));
  });

  test('the same steps always encode to the same manifest digest', () => {
    assert.equal(encodeBuildCache(steps).digest, encodeBuildCache(steps.map((step) => ({ ...step }))).digest);
  });

  test('decoding gives back every step with its created time and layer', () => {
    const encoded = encodeBuildCache(steps);
    const { config, layers } = decodeBuildCacheManifest(encoded.rawManifest);
    assert.equal(config.digest, digestOf(encoded.rawConfig));
    const decoded = decodeBuildCacheConfig(encoded.rawConfig, layers);
    assert.deepEqual([...decoded.keys()], steps.map((step) => step.key));
    for (const { key, ...step } of steps) assert.deepEqual(decoded.get(key), step);
  });

  test('an image manifest is not a build cache', () => {
    const image = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: digestOf(Buffer.from('{}')), size: 2 }, layers: [] };
    assert.throws(() => decodeBuildCacheManifest(Buffer.from(JSON.stringify(image))), (error) => error instanceof BuildCacheFormatError && /not a Wharf build cache/.test(error.message));
    assert.throws(() => decodeBuildCacheManifest(Buffer.from('[]')), BuildCacheFormatError);
  });

  test('a config whose steps name a missing layer, or whose diffIds do not match the layers, is refused', () => {
    const encoded = encodeBuildCache(steps);
    const { layers } = decodeBuildCacheManifest(encoded.rawManifest);
    const { diffIds } = JSON.parse(encoded.rawConfig.toString()) as { diffIds: string[] };
    const config = (entries: unknown[], ids: unknown[] = diffIds) => Buffer.from(JSON.stringify({ diffIds: ids, steps: entries }));
    assert.throws(() => decodeBuildCacheConfig(config([{ key: cacheKey('x'), created: 'now', layer: 2 }]), layers), /names layer 2 of 2/);
    assert.throws(() => decodeBuildCacheConfig(config([{ key: 'sha256:nope', created: 'now' }]), layers), /no valid key/);
    assert.throws(() => decodeBuildCacheConfig(config([], []), layers), /0 valid diffIds for 2 layers/);
  });
});

describe('which steps a cache export holds', () => {
  // builder: a, b. final: FROM builder, then c; a side stage (used by COPY --from) made d.
  const [a, b, c, d] = [layerStep('a', 'a'), layerStep('b', 'b'), layerStep('c', 'c'), layerStep('d', 'd')];
  const builder = [a!, b!];
  const side = [d!];
  const final = [a!, b!, c!];

  test('mode=min: the final stage chain, a parent stage’s steps included', () => {
    assert.deepEqual(cacheStepsFor('min', final, [builder, side, final]), [a, b, c]);
  });

  test('mode=max: every stage built, each step once', () => {
    assert.deepEqual(cacheStepsFor('max', final, [builder, side, final]), [a, b, c, d]);
  });
});
