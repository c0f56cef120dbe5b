// `wharf build --cache-to/--cache-from type=registry` end to end: the compiled CLI exports its build
// cache to a real `wharf serve` (and to CNCF distribution 2.8), then builds again with an empty
// --root from it. FROM scratch fixtures only, so no docker engine is needed; skopeo reads the cache ref.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, run, startRegistry, type RunningRegistry } from '../e2e/harness.js';
import { assertBuilt, buildArgs, fixture, stepOutcomes, TempDirs, wharfBuild } from './build-harness.js';

const skopeoMissing = !(await hasCommand('skopeo'));
const distributionMissing = !(await hasCommand('docker-registry'));

/** What one build reported. */
interface CacheBuild {
  /** `[STAGE] STEP: CACHED|DONE` of every step but FROM (the stage only in a multi-stage build). */
  readonly steps: string[];
  readonly imageId: string;
  readonly stderr: string;
  /** The build root (its content store shows what was fetched). */
  readonly root: string;
}

/** The manifest of a build cache as skopeo reads it. */
interface CacheManifest {
  mediaType: string;
  artifactType: string;
  config: { mediaType: string; digest: string };
  layers: { digest: string }[];
}

describe('wharf build with a registry cache', () => {
  let registry: RunningRegistry;
  const temps = new TempDirs();

  before(async () => {
    registry = await startRegistry();
  });

  after(async () => {
    await registry?.stop();
    await temps.removeAll();
  });

  /** Builds `context` FROM scratch with plain progress into `root` (a fresh, empty one by default). */
  async function build(context: string, extra: readonly string[], root?: string): Promise<CacheBuild> {
    const dir = root ?? (await temps.make('wharf-regcache-root-'));
    const iidfile = join(dir, 'iid');
    const result = assertBuilt(await wharfBuild(['--root', join(dir, 'state'), '--progress', 'plain', '--iidfile', iidfile, ...buildArgs({ BASE: 'scratch' }), ...extra, context]), context);
    const steps = stepOutcomes(result.stderr)
      .filter((step) => !/\] FROM /.test(step.name))
      .map((step) => `${step.name.replace(/^\[(?:(\S+) )?\d+\/\d+\] /, (_, stage?: string) => (stage ? `[${stage}] ` : ''))}: ${step.outcome}`);
    return { steps, imageId: (await readFile(iidfile, 'utf8')).trim(), stderr: result.stderr, root: dir };
  }

  /** The `METHOD URL` of every request the registry logged after `mark` (a logs() length). */
  function requestsSince(mark: number): string[] {
    return registry
      .logs()
      .slice(mark)
      .split('\n')
      .flatMap((line) => {
        if (!line.startsWith('{')) return [];
        const entry = JSON.parse(line) as { msg?: string; method?: string; url?: string };
        return entry.msg === 'request' ? [`${entry.method} ${entry.url}`] : [];
      });
  }

  /** The blob digests fetched with GET among `requests`. */
  function blobGets(requests: readonly string[]): string[] {
    return requests.flatMap((request) => /^GET \/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(request)?.[1] ?? []);
  }

  /** The blobs in a build root's content store. */
  async function storedBlobs(root: string): Promise<string[]> {
    return (await readdir(join(root, 'state', 'content', 'sha256'))).map((hex) => `sha256:${hex}`);
  }

  /** The cache manifest at `ref`, read by skopeo as any client would. */
  async function inspectRaw(ref: string): Promise<CacheManifest> {
    return JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])).stdout) as CacheManifest;
  }

  test('an empty root with --cache-from hits every step, gives the same image ID, and fetches each layer once', async (t) => {
    const ref = `${registry.host}/cache/copy:main`;
    const first = await build(fixture('cache'), ['--cache-to', `type=registry,ref=${ref}`]);
    assert.ok(first.steps.every((step) => step.endsWith(': DONE')), first.steps.join('\n'));
    assert.match(first.stderr, new RegExp(`exporting cache to ${ref} \\(mode=min\\)`));

    const mark = registry.logs().length;
    const second = await build(fixture('cache'), ['--cache-from', `type=registry,ref=${ref}`]);
    assert.deepEqual(second.steps, ['COPY one.txt /one.txt: CACHED', 'COPY two.txt /two.txt: CACHED', 'WORKDIR /work: CACHED', 'COPY three.txt ./: CACHED']);
    assert.equal(second.imageId, first.imageId);

    const manifest = await inspectRaw(ref);
    const fetched = blobGets(requestsSince(mark));
    assert.deepEqual(fetched.sort(), [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)].sort(), 'the config and each layer, once');
    const stored = await storedBlobs(second.root);
    for (const { digest } of manifest.layers) assert.ok(stored.includes(digest), `layer ${digest} is in the new root`);

    await t.test('skopeo reads the cache ref: an OCI manifest with the build-cache artifactType', { skip: skopeoMissing && 'skopeo not installed' }, () => {
      assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(manifest.artifactType, 'application/vnd.wharf.build-cache.v1+json');
      assert.equal(manifest.config.mediaType, 'application/vnd.wharf.build-cache.config.v1+json');
      assert.equal(manifest.layers.length, 4, 'three COPY layers and the WORKDIR one');
    });

    await t.test('a changed file: its step and the later ones run, and their cached layers are never fetched', async () => {
      const context = await temps.copyOf('cache');
      await writeFile(join(context, 'three.txt'), 'three, changed\n');
      const mark = registry.logs().length;
      const changed = await build(context, ['--cache-from', `type=registry,ref=${ref}`]);
      assert.deepEqual(changed.steps, ['COPY one.txt /one.txt: CACHED', 'COPY two.txt /two.txt: CACHED', 'WORKDIR /work: CACHED', 'COPY three.txt ./: DONE']);
      const fetched = blobGets(requestsSince(mark));
      assert.deepEqual(fetched.sort(), [manifest.config.digest, ...manifest.layers.slice(0, 3).map((layer) => layer.digest)].sort());
    });

    await t.test('a cache that hits nothing costs its manifest and config: no layer is fetched', async () => {
      const context = await temps.copyOf('cache');
      await writeFile(join(context, 'one.txt'), 'one, changed\n');
      const mark = registry.logs().length;
      const unrelated = await build(context, ['--cache-from', `type=registry,ref=${ref}`]);
      assert.ok(unrelated.steps.every((step) => step.endsWith(': DONE')), unrelated.steps.join('\n'));
      const requests = requestsSince(mark).filter((request) => request !== 'GET /v2/');
      assert.deepEqual(requests, [`GET /v2/cache/copy/manifests/main`, `GET /v2/cache/copy/blobs/${manifest.config.digest}`]);
    });
  });

  test('mode=max also exports the stages the final image does not contain; mode=min only its own chain', async () => {
    const min = `${registry.host}/cache/stages:min`;
    const max = `${registry.host}/cache/stages:max`;
    const first = await build(fixture('multi-stage'), ['--cache-to', `type=registry,ref=${min}`, '--cache-to', `type=registry,ref=${max},mode=max`]);
    assert.ok(first.steps.every((step) => step.endsWith(': DONE')), first.steps.join('\n'));
    const finalSteps = first.steps.filter((step) => step.startsWith('[stage-3] ')).map((step) => step.replace(/DONE$/, 'CACHED'));
    assert.equal(finalSteps.length, 4);

    const fromMax = await build(fixture('multi-stage'), ['--cache-from', `type=registry,ref=${max}`]);
    assert.deepEqual(fromMax.steps, first.steps.map((step) => step.replace(/DONE$/, 'CACHED')));
    assert.equal(fromMax.imageId, first.imageId);

    // The builder and middle stages run again; what the final stage copies from them is the same, so its steps hit.
    const fromMin = await build(fixture('multi-stage'), ['--cache-from', `type=registry,ref=${min}`]);
    assert.deepEqual(fromMin.steps.filter((step) => step.startsWith('[stage-3] ')), finalSteps);
    assert.deepEqual(fromMin.steps.filter((step) => !step.startsWith('[stage-3] ')), first.steps.filter((step) => !step.startsWith('[stage-3] ')));
    assert.equal(fromMin.imageId, first.imageId);
  });

  test('a missing --cache-from ref is a warning, and the build succeeds without it', async () => {
    const ref = `${registry.host}/cache/none:missing`;
    const result = await build(fixture('cache'), ['--cache-from', `type=registry,ref=${ref}`]);
    assert.ok(result.steps.every((step) => step.endsWith(': DONE')));
    assert.match(result.stderr, new RegExp(`^WARNING: --cache-from ${ref}: not found; building without it$`, 'm'));
  });

  test('an unreachable cache registry: --cache-from is a warning, --cache-to fails the build with one line', async () => {
    const ref = '127.0.0.1:9/cache/app:main';
    const imported = await build(fixture('cache'), ['--cache-from', `type=registry,ref=${ref}`]);
    assert.match(imported.stderr, new RegExp(`^WARNING: --cache-from ${ref}: .*ECONNREFUSED.*; building without it$`, 'm'));

    const root = await temps.make();
    const exported = await wharfBuild(['--root', root, '-q', ...buildArgs({ BASE: 'scratch' }), '--cache-to', `type=registry,ref=${ref}`, fixture('cache')]);
    assert.equal(exported.code, 1);
    assert.match(exported.stderr, new RegExp(`^wharf build: exporting the build cache to ${ref} failed: .*ECONNREFUSED[^\\n]*\\n$`));
  });

  test('CNCF distribution 2.8 stores the cache manifest and serves it back', { skip: distributionMissing && 'docker-registry not installed' }, async (t) => {
    const distribution = await startRegistry({ implementation: 'distribution' });
    t.after(() => distribution.stop());
    const ref = `${distribution.host}/cache/copy:main`;
    const first = await build(fixture('cache'), ['--cache-to', `type=registry,ref=${ref},mode=max`]);
    const second = await build(fixture('cache'), ['--cache-from', `type=registry,ref=${ref}`]);
    assert.ok(second.steps.every((step) => step.endsWith(': CACHED')), second.steps.join('\n'));
    assert.equal(second.imageId, first.imageId);
    if (!skopeoMissing) assert.equal((await inspectRaw(ref)).artifactType, 'application/vnd.wharf.build-cache.v1+json');
  });
});
