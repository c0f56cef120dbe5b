import type { ContentStore } from '../../../shared/content-store.js';
import type { Digest } from '../../../shared/digest.js';
import { MediaType } from '../../../shared/media-types.js';
import { parseImageReference, type ImageReference } from '../../../shared/reference.js';
import type { RegistryClient } from '../../../shared/registry-client/client.js';
import { RegistryResponseError } from '../../../shared/registry-client/registry-error.js';
import { downloadBlob } from '../../../shared/registry-client/remote-image.js';
import type { RegistryCacheSpec } from '../../build-options.js';
import type { Progress } from '../../progress.js';
import type { CachedStep } from '../build-cache.js';
import { decodeBuildCacheConfig, decodeBuildCacheManifest } from './cache-manifest.js';

interface ImportedStep {
  readonly step: CachedStep;
  /** Where its layer blob is fetched from on a hit. */
  readonly source: ImageReference;
}

/**
 * The steps of the `--cache-from` caches, by key. Loading costs each cache's manifest and config;
 * a layer blob is fetched only when a build hits its step, so an unrelated cache costs no layer bytes.
 */
export class ImportedBuildCache {
  /** Failures that made the build go on without (part of) a cache; printed as warnings. */
  readonly warnings: string[] = [];
  private readonly fetches = new Map<Digest, Promise<boolean>>();

  private constructor(
    private readonly client: RegistryClient,
    private readonly store: ContentStore,
    private readonly steps: ReadonlyMap<Digest, ImportedStep>,
  ) {}

  /**
   * Fetches the manifest and config of each cache, in parallel, each shown as a progress step. One
   * that is missing, unreachable or not a build cache is a warning, as in BuildKit: the build runs without it.
   */
  static async load(specs: readonly RegistryCacheSpec[], client: RegistryClient, store: ContentStore, progress: Progress): Promise<ImportedBuildCache> {
    const warnings: string[] = [];
    const loaded = await Promise.all(
      specs.map(async ({ ref }) => {
        const id = progress.start(`importing cache manifest from ${ref}`);
        try {
          const steps = await fetchCacheSteps(client, parseImageReference(ref), store);
          progress.log(id, `${steps.size} steps`);
          progress.done(id);
          return steps;
        } catch (error) {
          const warning = `--cache-from ${ref}: ${importFailure(error)}; building without it`;
          warnings.push(warning);
          progress.log(id, `WARNING: ${warning}`);
          progress.done(id);
          return new Map<Digest, ImportedStep>();
        }
      }),
    );
    // The first --cache-from that has a key wins, as the flags' order suggests.
    const steps = new Map<Digest, ImportedStep>();
    for (const cache of loaded) for (const [key, step] of cache) if (!steps.has(key)) steps.set(key, step);
    const imported = new ImportedBuildCache(client, store, steps);
    imported.warnings.push(...warnings);
    return imported;
  }

  /**
   * The result of step `key` if an imported cache has it, its layer blob fetched into the store
   * (verified by digest) first. A blob that cannot be fetched is a warning and a miss: the step runs.
   */
  async stepFor(key: Digest): Promise<CachedStep | undefined> {
    const found = this.steps.get(key);
    if (!found) return undefined;
    const layer = found.step.layer;
    if (!layer) return found.step;
    // Two stages hitting the same step at once fetch its blob once.
    let fetch = this.fetches.get(layer.descriptor.digest);
    if (!fetch) {
      fetch = downloadBlob(this.client, found.source, layer.descriptor, this.store).then(
        () => true,
        (error: Error) => {
          this.warnings.push(`--cache-from ${found.source}: cannot fetch layer ${layer.descriptor.digest} (${error.message}); running its step`);
          return false;
        },
      );
      this.fetches.set(layer.descriptor.digest, fetch);
    }
    return (await fetch) ? found.step : undefined;
  }
}

/** A cache's steps, each with the repository its layer comes from. */
async function fetchCacheSteps(client: RegistryClient, ref: ImageReference, store: ContentStore): Promise<Map<Digest, ImportedStep>> {
  const manifest = await client.getManifest(ref, ref.manifestReference, [MediaType.OciManifest]);
  const { config, layers } = decodeBuildCacheManifest(manifest.content);
  // Kept in the store like any blob: verified on the way in, and a second import of the same cache reads it from disk.
  await downloadBlob(client, ref, config, store);
  const steps = decodeBuildCacheConfig(await store.read(config.digest), layers);
  return new Map([...steps].map(([key, step]) => [key, { step, source: ref }]));
}

/** Why an import failed, in a few words: a missing ref says so plainly. */
function importFailure(error: unknown): string {
  if (error instanceof RegistryResponseError && error.status === 404) return 'not found';
  return (error as Error).message;
}
