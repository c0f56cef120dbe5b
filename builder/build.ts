import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ContentStore } from '../shared/content-store.js';
import { digestOf, type Digest } from '../shared/digest.js';
import type { Image, Layer } from '../shared/image.js';
import { assembleImage, imageConfigOf } from '../shared/image-assembly.js';
import type { ImageConfig } from '../shared/image-config.js';
import { formatPlatform } from '../shared/platform.js';
import { parseImageReference } from '../shared/reference.js';
import { RegistryClient } from '../shared/registry-client/client.js';
import { pushImage } from '../shared/registry-client/push.js';
import { pullImage } from '../shared/registry-client/remote-image.js';
import type { BuildOptions } from './build-options.js';
import { removeTemporaries } from './build-root.js';
import { BuildStepError, stepLayer, type BuildSession } from './build-session.js';
import { BuildCache } from './cache/build-cache.js';
import { cacheKey } from './cache/cache-key.js';
import { ContextDigestCache } from './cache/context-digest-cache.js';
import { exportBuildCaches } from './cache/registry/cache-export.js';
import { ImportedBuildCache } from './cache/registry/cache-import.js';
import { SourceTree } from './context/build-context.js';
import { dispatchInstruction, isStep, type DispatchScope } from './dispatch/dispatch.js';
import { CompressedLayers } from './export/compressed-layers.js';
import { writeDockerArchive } from './export/docker-archive.js';
import { writeOciLayoutArchive } from './export/oci-layout.js';
import { dockerignoreFor, expandStepName, expandWord, lookupFrom, parseDockerfile, parseOnbuildTrigger, type Stage } from './frontend/index.js';
import type { Progress } from './progress.js';
import { removeStaleContainers } from './runtime/run-container.js';
import { LayerSnapshots } from './snapshot/layer-snapshots.js';
import { RootfsViews } from './snapshot/rootfs-views.js';
import { removeStaleMounts } from './snapshot/overlay-mount.js';
import { StageState } from './stage-state.js';
import { stageResolver, stagesToBuild, type StageNode, type StageResolver } from './stage-graph.js';

/** What a build produced. */
export interface BuildResult {
  /** The image ID: the digest of the image config. */
  readonly imageId: Digest;
  /**
   * The manifest digest of the image as pushed or written (Docker format unless only an OCI output
   * was asked for); none when nothing was pushed or written.
   */
  readonly manifestDigest?: Digest;
  readonly warnings: readonly string[];
}

interface StageNodeOf extends StageNode {
  readonly stage: Stage;
  /** The FROM image or stage, expanded with the meta ARGs. */
  readonly base: string;
}

/** Builds the Dockerfile `options` names and writes the image where they ask. */
export async function build(options: BuildOptions, progress: Progress): Promise<BuildResult> {
  const dockerfileName = relative(process.cwd(), options.dockerfile) || options.dockerfile;
  const text = await readFile(options.dockerfile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${dockerfileName}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const parsed = parseDockerfile(text, dockerfileName);
  await mkdir(options.root, { recursive: true });
  // Mounts first: removing a dead build's temporaries must not reach through its overlays.
  await removeStaleMounts(options.root);
  await removeStaleContainers(join(options.root, 'runtime'), options.runtime);
  removeTemporaries(options.root);
  const store = new ContentStore(join(options.root, 'content'));
  const cache = new BuildCache(join(options.root, 'cache.db'));
  const contextDigests = new ContextDigestCache(join(options.root, 'context-digests.db'));
  const snapshots = new LayerSnapshots(join(options.root, 'snapshots'));
  const views = new RootfsViews(snapshots, options.root, join(options.root, 'rootfs'));
  const client = new RegistryClient({ insecureRegistries: options.insecureRegistries, caFiles: options.registryCas });
  const warnings = [...parsed.warnings];
  try {
    const consumedBuildArgs = new Set<string>();
    const metaArgs = new Map(platformArgs(options));
    for (const { name, default: fallback } of parsed.metaArgs.flatMap((arg) => arg.args)) {
      consumedBuildArgs.add(name);
      const value = options.buildArgs.get(name) ?? (fallback === undefined ? undefined : expandWord(fallback, lookupFrom(metaArgs), parsed.escapeToken));
      if (value !== undefined) metaArgs.set(name, value);
    }
    const nodes: StageNodeOf[] = parsed.stages.map((stage) => {
      const base = expandWord(stage.baseImage, lookupFrom(metaArgs), parsed.escapeToken);
      const froms = stage.instructions.flatMap((instruction) => (instruction.kind === 'COPY' && instruction.from ? [instruction.from] : []));
      return { index: stage.index, name: stage.name, stage, base, references: [base, ...froms] };
    });
    const needed = stagesToBuild(nodes, options.target);
    const stageOf = stageResolver(nodes);
    const results = new Map<number, Promise<StageState>>();
    const importedCache = await ImportedBuildCache.load(options.noCache ? [] : options.cacheFrom, client, store, progress);

    const session: BuildSession = {
      options,
      dockerfileName,
      escapeToken: parsed.escapeToken,
      store,
      cache,
      importedCache,
      contextDigests,
      snapshots,
      progress,
      context: SourceTree.context(options.context, await dockerignoreFor(options.context, options.dockerfile)),
      consumedBuildArgs,
      rootfsOf: (state) => views.view(state.layers),
      async readFileOf(state, path) {
        if (state.layers.length === 0) return undefined;
        return SourceTree.rootfs(await views.view(state.layers), { kind: 'stage', name: state.name }).readFile(path);
      },
      async sourceRootfs(reference) {
        // Index references were checked against their own stage by stagesToBuild.
        const stage = stageOf(reference, nodes.at(-1)!);
        if (stage) return SourceTree.rootfs(await views.view((await results.get(stage.index)!).layers), { kind: 'stage', name: reference });
        // Not a stage, so an image, as in Docker; a typo'd stage name should say so when the pull fails.
        const image = await pullImage(client, parseImageReference(reference), options.platform, store).catch((error: Error) => {
          throw new Error(`--from=${reference} is not a stage of this Dockerfile, and pulling it as an image failed: ${error.message}`);
        });
        return SourceTree.rootfs(await views.view(image.layers), { kind: 'image', name: reference });
      },
    };

    const buildStage = async (node: StageNodeOf): Promise<StageState> => {
      const label = node.name ?? `stage-${node.index}`;
      const steps = node.stage.instructions.filter(isStep).length + 1;
      const prefix = needed.length > 1 ? `${label} ` : '';
      // BuildKit pads the step number to the width of the total: [ 5/10].
      const position = (n: number) => `[${prefix}${String(n).padStart(String(steps).length)}/${steps}]`;
      const fromStep = progress.start(`${position(1)} FROM ${node.base}`);
      let state: StageState;
      let triggers: readonly string[];
      try {
        ({ state, triggers } = await stageBase(node, stageOf, results, options, client, store, label));
        progress.done(fromStep);
      } catch (error) {
        progress.fail(fromStep, (error as Error).message);
        throw new BuildStepError(dockerfileName, node.stage.line, `FROM ${node.base}: ${(error as Error).message}`);
      }
      const scope: DispatchScope = { metaArgs, cmdSet: false };
      let step = 1;
      for (const instruction of [...triggers.map((expression) => parseOnbuildTrigger(expression)), ...node.stage.instructions]) {
        const id = isStep(instruction) ? progress.start(`${position(++step)} ${expandStepName(instruction.original, state.lookup(), parsed.escapeToken)}`) : undefined;
        try {
          const cached = await dispatchInstruction(session, state, instruction, scope, id);
          if (id !== undefined) (cached ? progress.cached(id) : progress.done(id));
        } catch (error) {
          if (id !== undefined) progress.fail(id, (error as Error).message);
          if (error instanceof BuildStepError) throw error;
          const message = (error as Error).message;
          // Context errors already say "COPY failed: …", as Docker words them.
          const said = message.startsWith(`${instruction.kind} failed`) ? message : `${instruction.kind} failed: ${message}`;
          throw new BuildStepError(dockerfileName, instruction.line, said);
        }
      }
      return state;
    };
    // Every needed stage starts at once; each waits only for the stages it uses.
    for (const node of needed) results.set(node.index, buildStage(node));
    const outcomes = await Promise.allSettled(needed.map((node) => results.get(node.index)!));
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const final = await results.get(needed.at(-1)!.index)!;

    const unused = [...options.buildArgs.keys()].filter((name) => !consumedBuildArgs.has(name) && !PREDEFINED_ARGS.has(name));
    if (unused.length > 0) warnings.push(`one or more build-args [${unused.join(' ')}] were not consumed`);

    const config = finalConfig(final, options);
    const compressed = new CompressedLayers(store, cache, options.compression);
    const exported = await exportImage(config, final.layers, options, store, compressed, client);
    const stages = await Promise.all(needed.map((node) => results.get(node.index)!));
    // Pushed tags on the cache's registry already hold its layers: mounting them saves the upload.
    const mountFrom = options.push ? parseImageReference(options.tags[0]!) : undefined;
    await exportBuildCaches(options.cacheTo, { final: final.steps, all: stages.map((stage) => stage.steps) }, { client, progress, mountFrom, exportLayer: (layer) => compressed.of(stepLayer(session, layer)) });
    return { ...exported, warnings: [...warnings, ...importedCache.warnings] };
  } finally {
    await views.close();
    cache.close();
    contextDigests.close();
  }
}

/** The state a stage starts from (scratch, another stage's result, or a pulled image) and the base's ONBUILD triggers. */
async function stageBase(
  node: StageNodeOf,
  stageOf: StageResolver<StageNodeOf>,
  results: ReadonlyMap<number, Promise<StageState>>,
  options: BuildOptions,
  client: RegistryClient,
  store: ContentStore,
  label: string,
): Promise<{ state: StageState; triggers: readonly string[] }> {
  if (node.base.toLowerCase() === 'scratch') {
    return { state: new StageState(label, options.platform, undefined, [], cacheKey('FROM scratch', formatPlatform(options.platform))), triggers: [] };
  }
  const parent = stageOf(node.base, node);
  if (parent) {
    const built = await results.get(parent.index)!;
    const config = built.imageConfig();
    return { state: new StageState(label, options.platform, config, built.layers, built.key, built.steps), triggers: config.config.OnBuild ?? [] };
  }
  const image = await pullImage(client, parseImageReference(node.base), options.platform, store);
  const state = new StageState(label, options.platform, image.config, image.layers, cacheKey('FROM', image.digest));
  return { state, triggers: image.config.config.OnBuild ?? [] };
}

/** The final stage's config with the --label values applied. */
function finalConfig(state: StageState, options: BuildOptions): ImageConfig {
  const config = state.imageConfig();
  if (Object.keys(options.labels).length === 0) return config;
  return { ...config, config: { ...config.config, Labels: { ...config.config.Labels, ...options.labels } } };
}

/**
 * Writes the image to every output asked for and returns its IDs. Only outputs need a manifest, and
 * so compressed layers: a build without one (filling the cache, as `docker build` into the engine)
 * stops at the config, whose digest is the image ID.
 */
async function exportImage(
  config: ImageConfig,
  layers: readonly Layer[],
  options: BuildOptions,
  store: ContentStore,
  compressed: CompressedLayers,
  client: RegistryClient,
): Promise<Omit<BuildResult, 'warnings'>> {
  if (options.outputs.length === 0 && !options.push && !options.metadataFile) {
    const imageId = digestOf(imageConfigOf(config, layers).rawConfig);
    if (options.iidfile) await writeFile(options.iidfile, imageId);
    return { imageId };
  }
  const exported: Layer[] = [];
  for (const layer of layers) exported.push(await compressed.of(layer));
  const images = new Map<'docker' | 'oci', Image>();
  const imageIn = async (format: 'docker' | 'oci') => {
    if (!images.has(format)) images.set(format, await assembleImage(config, exported, store, format));
    return images.get(format)!;
  };
  const onlyOci = options.outputs.length > 0 && !options.push && options.outputs.every((output) => output.type === 'oci');
  // zstd layers exist only in OCI manifests.
  const primary = await imageIn(onlyOci || options.compression === 'zstd' ? 'oci' : 'docker');
  for (const output of options.outputs) {
    if (output.type === 'docker') await writeDockerArchive(await imageIn('docker'), options.tags, output.dest);
    else await writeOciLayoutArchive(await imageIn('oci'), options.tags, output.dest);
  }
  if (options.push) await pushImage(client, primary, options.tags.map((tag) => parseImageReference(tag)));
  const imageId = primary.manifest.config.digest;
  if (options.iidfile) await writeFile(options.iidfile, imageId);
  if (options.metadataFile) {
    const metadata = { 'containerimage.config.digest': imageId, 'containerimage.digest': primary.digest, ...(options.tags.length ? { 'image.name': options.tags.join(',') } : {}) };
    await writeFile(options.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
  }
  return { imageId, manifestDigest: primary.digest };
}

// Build args Docker defines without an ARG: passing them never warns.
const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy', 'SOURCE_DATE_EPOCH']);

/** BuildKit's automatic platform ARGs, visible to FROM lines and to stages that declare them. */
function platformArgs(options: BuildOptions): [string, string][] {
  const { os, architecture, variant } = options.platform;
  const platform = formatPlatform(options.platform);
  return [
    ['TARGETPLATFORM', platform],
    ['TARGETOS', os],
    ['TARGETARCH', architecture],
    ['TARGETVARIANT', variant ?? ''],
    ['BUILDPLATFORM', `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`],
    ['BUILDOS', 'linux'],
    ['BUILDARCH', process.arch === 'x64' ? 'amd64' : process.arch],
  ];
}
