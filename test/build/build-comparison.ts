// One fixture built twice — by `wharf build` into a docker archive the engine loads, and by the
// engine's BuildKit — then compared: image config, history and file tree. Shared by the suites of
// test/build, which each start one registry holding the base image both builders pull.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { docker, startRegistry, type RunningRegistry } from '../e2e/harness.js';
import {
  assertBuilt,
  BASE_IMAGE,
  buildArgs,
  buildkitBuild,
  dockerLoad,
  ensureBaseImage,
  fileListing,
  fixture,
  historyAsEngine,
  historyOf,
  IMAGE_PREFIX,
  inspectConfig,
  removeImages,
  savedImage,
  TempDirs,
  under,
  wharfBuild,
  type SavedImage,
} from './build-harness.js';

/** One image, built and loaded into the engine, with what the tests compare. */
export interface BuiltImage {
  readonly image: string;
  readonly output: string;
  readonly config: Record<string, unknown>;
  readonly saved: SavedImage;
  listing(): Promise<string[]>;
}

export interface BuildSpec {
  /** Names the images; defaults to the fixture name. */
  readonly label?: string;
  readonly context?: string;
  readonly args?: Readonly<Record<string, string>>;
  readonly target?: string;
  /** wharf's image name (default wharf-build-test/wharf-LABEL). */
  readonly tag?: string;
}

export interface Comparison {
  /** Compare the file trees (default true), or only these paths and what is under them. */
  readonly files?: boolean | readonly string[];
  /** Compare history after these many entries of wharf's and BuildKit's (to leave out a base image's, compared elsewhere). */
  readonly historyAfter?: { readonly wharf: number; readonly buildkit: number };
}

/** A suite's registry with the base image, its temporary directories and the images it leaves in the engine. */
export class BuildComparison {
  registry!: RunningRegistry;
  /** The base image as wharf (and BuildKit) pull it from the registry under test. */
  base!: string;
  readonly temps = new TempDirs();
  readonly images = new Set<string>();

  async start(): Promise<void> {
    await ensureBaseImage();
    this.registry = await startRegistry();
    this.base = `${this.registry.host}/base/busybox:latest`;
    await docker(['tag', BASE_IMAGE, this.base]);
    this.images.add(this.base);
    await docker(['push', this.base]);
  }

  async stop(): Promise<void> {
    // WHARF_BUILD_E2E_KEEP=1 leaves the images in the engine, to look at after a failure.
    if (process.env.WHARF_BUILD_E2E_KEEP !== '1') await removeImages(this.images);
    await this.registry?.stop();
    await this.temps.removeAll();
  }

  /** `wharf build` of a fixture into a docker archive, loaded into the engine. */
  async wharf(name: string, spec: BuildSpec = {}, extra: readonly string[] = []): Promise<BuiltImage> {
    const root = await this.temps.make();
    const archive = join(root, 'image.tar');
    const tag = spec.tag ?? `${IMAGE_PREFIX}/wharf-${spec.label ?? name}:latest`;
    const result = assertBuilt(
      await wharfBuild([
        '--root', join(root, 'state'), '--progress', 'plain', '-t', tag, '--output', `type=docker,dest=${archive}`,
        ...buildArgs({ BASE: this.base, ...spec.args }), ...(spec.target ? ['--target', spec.target] : []), ...extra,
        spec.context ?? fixture(name),
      ]),
      name,
    );
    this.images.add(tag);
    assert.equal(await dockerLoad(archive), tag);
    return describeImage(tag, result.stderr);
  }

  /** The same fixture built by the engine's BuildKit. */
  async buildkit(name: string, spec: BuildSpec = {}, extra: readonly string[] = []): Promise<BuiltImage> {
    const tag = `${IMAGE_PREFIX}/buildkit-${spec.label ?? name}:latest`;
    const output = await buildkitBuild(spec.context ?? fixture(name), tag, { BASE: this.base, ...spec.args }, [...(spec.target ? ['--target', spec.target] : []), ...extra]);
    this.images.add(tag);
    return describeImage(tag, output);
  }

  async both(name: string, spec: BuildSpec = {}): Promise<{ wharf: BuiltImage; buildkit: BuiltImage }> {
    const [wharf, buildkit] = await Promise.all([this.wharf(name, spec), this.buildkit(name, spec)]);
    return { wharf, buildkit };
  }

  /** Subtests: config, history and file tree of wharf's image equal BuildKit's. */
  async compare(t: TestContext, { wharf, buildkit }: { wharf: BuiltImage; buildkit: BuiltImage }, { files = true, historyAfter }: Comparison = {}): Promise<void> {
    await t.test('image config matches BuildKit', () => {
      assert.deepEqual(wharf.config, buildkit.config);
      assert.equal(wharf.saved.config.author, buildkit.saved.config.author);
    });
    await t.test('history (created_by, empty_layer) matches BuildKit', () => {
      const engine = historyOf(buildkit.saved).slice(historyAfter?.buildkit ?? 0);
      assert.deepEqual(historyAsEngine(historyOf(wharf.saved).slice(historyAfter?.wharf ?? 0), engine), engine);
      if (!historyAfter) assert.equal(wharf.saved.config.rootfs.diff_ids.length, buildkit.saved.config.rootfs.diff_ids.length, 'layer count');
    });
    if (files) {
      await t.test('file tree matches BuildKit', async () => {
        const pick = (listing: string[]) => (files === true ? listing : under(listing, ...files));
        assert.deepEqual(pick(await wharf.listing()), pick(await buildkit.listing()));
      });
    }
  }
}

async function describeImage(image: string, output: string): Promise<BuiltImage> {
  const [config, saved] = await Promise.all([inspectConfig(image), savedImage(image)]);
  let listing: Promise<string[]> | undefined;
  return { image, output, config, saved, listing: () => (listing ??= fileListing(image)) };
}
