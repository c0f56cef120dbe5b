import type { Digest } from '../../../shared/digest.js';
import type { Layer } from '../../../shared/image.js';
import { MediaType } from '../../../shared/media-types.js';
import { parseImageReference, type ImageReference } from '../../../shared/reference.js';
import type { RegistryClient } from '../../../shared/registry-client/client.js';
import { pushImage } from '../../../shared/registry-client/push.js';
import type { RegistryCacheSpec } from '../../build-options.js';
import type { Progress } from '../../progress.js';
import type { KeyedStep, StepLayer } from '../build-cache.js';
import { encodeBuildCache } from './cache-manifest.js';

/**
 * The steps a cache of `mode` holds, each once: min, the final stage's chain (what the image is
 * made of); max, also every other stage built, so intermediate stages hit too, as BuildKit's mode=max.
 */
export function cacheStepsFor(mode: RegistryCacheSpec['mode'], finalStage: readonly KeyedStep[], allStages: readonly (readonly KeyedStep[])[]): KeyedStep[] {
  const byKey = new Map<Digest, KeyedStep>();
  for (const steps of mode === 'min' ? [finalStage] : [finalStage, ...allStages]) {
    for (const step of steps) if (!byKey.has(step.key)) byKey.set(step.key, step);
  }
  return [...byKey.values()];
}

/**
 * Pushes `steps` as a build cache manifest to `ref`, each layer as `exportLayer` gives it (compressed,
 * as the image's own layers are pushed, so the two share blobs); returns the manifest's digest.
 */
export async function pushBuildCache(
  client: RegistryClient,
  ref: ImageReference,
  steps: readonly KeyedStep[],
  exportLayer: (layer: StepLayer) => Promise<Layer>,
  mountFrom?: ImageReference,
): Promise<Digest> {
  const exported: KeyedStep[] = [];
  const layerByDigest = new Map<Digest, Layer>();
  for (const step of steps) {
    if (!step.layer) {
      exported.push(step);
      continue;
    }
    const layer = await exportLayer(step.layer);
    layerByDigest.set(layer.descriptor.digest, layer);
    exported.push({ ...step, layer: { descriptor: layer.descriptor, diffId: layer.diffId } });
  }
  const encoded = encodeBuildCache(exported);
  const layers = encoded.layers.map(({ descriptor }) => layerByDigest.get(descriptor.digest)!);
  return pushImage(client, { ...encoded, mediaType: MediaType.OciManifest, layers }, ref, { mountFrom });
}

/**
 * Exports the build cache to every `--cache-to`, each shown as a progress step. A failure fails the
 * build with one line naming the ref: the user asked for the export, so it must not go missing quietly.
 */
export async function exportBuildCaches(
  specs: readonly RegistryCacheSpec[],
  stages: { readonly final: readonly KeyedStep[]; readonly all: readonly (readonly KeyedStep[])[] },
  { client, progress, mountFrom, exportLayer }: { client: RegistryClient; progress: Progress; mountFrom?: ImageReference; exportLayer: (layer: StepLayer) => Promise<Layer> },
): Promise<void> {
  for (const spec of specs) {
    const id = progress.start(`exporting cache to ${spec.ref} (mode=${spec.mode})`);
    try {
      const steps = cacheStepsFor(spec.mode, stages.final, stages.all);
      const digest = await pushBuildCache(client, parseImageReference(spec.ref), steps, exportLayer, mountFrom);
      progress.log(id, `${steps.length} steps, manifest ${digest}`);
      progress.done(id);
    } catch (error) {
      progress.fail(id, (error as Error).message);
      throw new Error(`exporting the build cache to ${spec.ref} failed: ${(error as Error).message}`);
    }
  }
}
