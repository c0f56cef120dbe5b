import type { ContentStore } from '../shared/content-store.js';
import type { Digest } from '../shared/digest.js';
import type { Layer } from '../shared/image.js';
import type { HistoryEntry } from '../shared/image-config.js';
import { StoredLayer } from '../shared/layer/stored-layer.js';
import type { LayerEntry } from '../shared/layer/layer-entry.js';
import { writeLayer } from '../shared/layer/layer-writer.js';
import type { BuildOptions } from './build-options.js';
import type { BuildCache, CachedStep, StepLayer } from './cache/build-cache.js';
import type { ContextDigestCache } from './cache/context-digest-cache.js';
import type { ImportedBuildCache } from './cache/registry/cache-import.js';
import type { SourceTree } from './context/build-context.js';
import type { LayerSnapshots } from './snapshot/layer-snapshots.js';
import { SnapshotLayer } from './snapshot/snapshot-layer.js';
import type { Progress } from './progress.js';
import type { StageState } from './stage-state.js';

/** BuildKit's history comment for steps of a Dockerfile build. */
export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** A failure at one Dockerfile instruction, printed as `Dockerfile:12: COPY failed: …`. */
export class BuildStepError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** What every dispatch function shares during one build. */
export interface BuildSession {
  readonly options: BuildOptions;
  /** The Dockerfile's path as the user named it, for error messages. */
  readonly dockerfileName: string;
  readonly escapeToken: string;
  readonly store: ContentStore;
  readonly cache: BuildCache;
  /** The `--cache-from` caches, consulted after the local one. */
  readonly importedCache: ImportedBuildCache;
  readonly contextDigests: ContextDigestCache;
  /** Layers unpacked for overlay mounts (RUN). */
  readonly snapshots: LayerSnapshots;
  readonly progress: Progress;
  readonly context: SourceTree;
  /** The root filesystem of a finished stage (by name or index) or an image, as a directory: for COPY --from. */
  sourceRootfs(reference: string): Promise<SourceTree>;
  /** The current filesystem of a stage being built, as a directory: for existing paths. */
  rootfsOf(state: StageState): Promise<string>;
  /** A file of a stage being built (for /etc/passwd and /etc/group), symlinks resolved inside the image. */
  readFileOf(state: StageState, path: string): Promise<Buffer | undefined>;
  /** Build args the Dockerfile declared (to warn about the rest). */
  readonly consumedBuildArgs: Set<string>;
}

/** The time a new history entry gets: SOURCE_DATE_EPOCH when set, else now. */
export function historyTime(session: BuildSession): string {
  const epoch = session.options.sourceDateEpoch;
  return new Date(epoch !== undefined ? epoch * 1000 : Date.now()).toISOString();
}

/**
 * Runs a step through the cache: returns the cached result for `key` unless --no-cache (the local
 * cache's, else an imported cache's, recorded locally), else runs `execute` and records its result.
 * The step (and, unless told otherwise, its history entry) are added to the stage.
 */
export async function cachedStep(
  session: BuildSession,
  state: StageState,
  key: Digest,
  createdBy: string,
  execute: () => Promise<Pick<CachedStep, 'layer'>>,
  { history = true }: { history?: boolean } = {},
): Promise<{ step: CachedStep; cached: boolean }> {
  const local = session.options.noCache ? undefined : session.cache.get(key);
  const usable = local && (!local.layer || (await layerKept(session, local.layer))) ? local : undefined;
  const hit = usable ?? (session.options.noCache ? undefined : await session.importedCache.stepFor(key));
  const step: CachedStep = hit ?? { ...(await execute()), created: historyTime(session) };
  if (!usable) session.cache.put(key, step);
  const entry: HistoryEntry = { created: step.created, created_by: createdBy, comment: HISTORY_COMMENT, ...(step.layer ? {} : { empty_layer: true }) };
  if (history) state.history.push(entry);
  state.key = key;
  state.steps.push({ key, ...step });
  return { step, cached: hit !== undefined };
}

/**
 * Writes the layer a step made into the store as a plain tar: compressing is left to the outputs
 * (see CompressedLayers), so a build that only fills the cache never pays for it.
 */
export async function storeStepLayer(session: BuildSession, entries: readonly LayerEntry[]): Promise<Pick<CachedStep, 'layer'>> {
  const layer = await writeLayer(entries, session.store, { compression: 'none', format: 'oci', sourceDateEpoch: session.options.sourceDateEpoch });
  return { layer: { descriptor: layer.descriptor, diffId: layer.diffId } };
}

/** Whether the build root still has what a cached step's layer is read from: its snapshot, or its blob. */
async function layerKept(session: BuildSession, layer: StepLayer): Promise<boolean> {
  return layer.snapshot ? session.snapshots.has(layer.snapshot.chainId) : session.store.has(layer.descriptor.digest);
}

/** A step's layer as the image has it: read from its snapshot (a RUN's) or from the content store. */
export function stepLayer(session: Pick<BuildSession, 'store' | 'snapshots'>, layer: StepLayer): Layer {
  if (!layer.snapshot) return new StoredLayer(session.store, layer.descriptor, layer.diffId);
  return new SnapshotLayer(layer.descriptor, layer.diffId, session.snapshots.directory(layer.snapshot.chainId), layer.snapshot.sourceDateEpoch);
}
