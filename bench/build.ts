/**
 * `npm run bench:build`: `wharf build` against the Docker engine's BuildKit on one large context
 * (many small files plus big incompressible ones): a cold build, a rebuild with no change and a
 * rebuild after one small file changed, as wall times and wharf/BuildKit ratios (lower is better).
 *
 *   BENCH_SMALL_FILES=2000 BENCH_BIG_MB=20 BENCH_ROUNDS=1 npm run bench:build     # quick smoke run
 *
 * Environment: BENCH_SMALL_FILES (20000), BENCH_SMALL_MIN_BYTES (100), BENCH_SMALL_MAX_BYTES (4096),
 * BENCH_BIG_MB (200), BENCH_BIG_FILE_MB (5), BENCH_ROUNDS (3), BENCH_BUILDERS (buildkit,wharf,wharf-archive),
 * BENCH_DOCKER_SAVE (1), BENCH_CPU_PROF_DIR (none), BENCH_TMPDIR (OS temp dir), BENCH_DOCKER_BIN (/usr/bin/docker).
 */
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { snapshotWharf, WHARF_BIN } from '../test/support/wharf-process.js';
import { bigFileSplit, BUILDER_NAMES, readBuildConfig, type BuildBenchConfig, type BuilderName } from './build-config.js';
import { expectSteps, type StepOutcome } from './build-progress.js';
import { buildGoalsMet, buildMarkdownTable, SCENARIOS, type Scenario } from './build-report.js';
import { alternatingRounds, BUILDER_BENCH_LOCK, BuilderBenchResults, logBuildServerNote, logHeader, machineSummary, type BuildRun, type BuildRuns } from './builder-bench.js';
import { BuildKitBuilder, dockerVersions, imageSummary, loadedArchiveSummary, type ImageSummary } from './buildkit.js';
import { inTemporaryDir, installCleanupHandlers, onCleanup, runBenchmark, trackDir } from './cleanup.js';
import { changeOneFile, FIXTURE_DOCKERFILE, generateContextFixture, restoreChangeTarget, type ContextFixture } from './context-fixture.js';
import { holdInstanceLock } from './instance-lock.js';
import { waitedChildrenCpuSeconds } from './proc-stats.js';
import { wharfBuild } from './wharf-build.js';
import { checkWharfBuilt } from './wharf.js';
import { log, sync } from './host-commands.js';

const MIB = 1024 * 1024;
const BIG_STEP = 'COPY big/ /app/big/';
const SMALL_STEP = 'COPY small/ /app/small/';

interface Context {
  config: BuildBenchConfig;
  root: string;
  fixture: ContextFixture;
  buildkit: BuildKitBuilder | undefined;
  /** The snapshot of the wharf CLI every wharf build runs. */
  wharfBin: string;
  tagBase: string;
  results: BuilderBenchResults;
  /** Checked once: what the engine and wharf's archive hold, as "N layers, S bytes". */
  outputs: Map<string, ImageSummary>;
}

/** The cache outcome each scenario must show, or the measurement is not what it claims to be. */
function expectedSteps(scenario: Scenario): StepOutcome[] {
  const want: Record<Scenario['key'], [boolean, boolean]> = { cold: [false, false], warm: [true, true], change: [true, false] };
  const [bigCached, smallCached] = want[scenario.key];
  return [
    { instruction: BIG_STEP, cached: bigCached },
    { instruction: SMALL_STEP, cached: smallCached },
  ];
}

function contextSent(output: string): string | undefined {
  const matches = [...output.matchAll(/transferring context: ([\d.]+\s*[kMG]?B)/g)];
  return matches.at(-1)?.[1];
}

function checkSummary(ctx: Context, what: string, summary: ImageSummary, expectedBytes: number): void {
  ctx.outputs.set(what, summary);
  if (summary.layers !== 2 || summary.size !== expectedBytes) {
    throw new Error(`${what}: ${summary.layers} layers of ${summary.size} bytes, expected 2 layers of ${expectedBytes} bytes (the context's files)`);
  }
}

async function measureBuildKit(ctx: Context, round: number, runDir: string): Promise<BuildRuns> {
  const buildkit = ctx.buildkit!;
  const runs: BuildRuns = new Map();
  await buildkit.reset();
  for (const scenario of SCENARIOS) {
    if (scenario.key === 'change') await changeOneFile(ctx.fixture, `buildkit round ${round}`);
    sync();
    const result = await buildkit.build(ctx.fixture.dir);
    const output = `${result.stderr}\n${result.stdout}`;
    expectSteps(`buildkit, ${scenario.label}`, output, expectedSteps(scenario));
    const run: BuildRun = {
      seconds: result.ms / 1000,
      cpuSeconds: result.cpuSeconds + result.engineCpuSeconds,
      imageId: result.imageId,
      contextSent: contextSent(output),
    };
    if (scenario.key === 'cold' && round === 1) {
      checkSummary(ctx, 'BuildKit image in the engine', await imageSummary(result.imageId), ctx.fixture.smallBytes + ctx.fixture.bigBytes);
    }
    if (ctx.config.dockerSave) run.saveSeconds = await buildkit.saveSeconds(runDir);
    runs.set(scenario.key, run);
  }
  await buildkit.reset();
  return runs;
}

async function measureWharf(ctx: Context, builder: 'wharf' | 'wharf-archive', round: number, runDir: string): Promise<BuildRuns> {
  const runs: BuildRuns = new Map();
  const root = join(runDir, 'root');
  const archive = builder === 'wharf-archive' ? join(runDir, 'image.tar') : undefined;
  let added = 0;
  for (const scenario of SCENARIOS) {
    if (scenario.key === 'change') added = await changeOneFile(ctx.fixture, `${builder} round ${round}`);
    const cpuProfileDir = ctx.config.cpuProfileDir ? join(ctx.config.cpuProfileDir, `${builder}-round${round}-${scenario.key}`) : undefined;
    sync();
    const result = await wharfBuild(ctx.fixture.dir, { bin: ctx.wharfBin, root, tag: `${ctx.tagBase}:${builder}`, iidFile: join(runDir, 'iid'), archive, serverDir: join(ctx.root, 'build-server'), cpuProfileDir });
    expectSteps(`${builder}, ${scenario.label}`, `${result.stderr}\n${result.stdout}`, expectedSteps(scenario));
    if (archive && (await stat(archive)).size < ctx.fixture.bigBytes) throw new Error(`${builder}, ${scenario.label}: ${archive} is smaller than the context's big files`);
    runs.set(scenario.key, { seconds: result.ms / 1000, cpuSeconds: result.cpuSeconds, imageId: result.imageId });
  }
  if (archive && round === 1 && ctx.buildkit) {
    // The last archive holds the changed file: its extra bytes count too.
    const expected = ctx.fixture.smallBytes + ctx.fixture.bigBytes + added;
    checkSummary(ctx, 'wharf docker archive, after docker load', await loadedArchiveSummary(archive), expected);
  }
  return runs;
}

async function measure(ctx: Context, builder: BuilderName, round: number): Promise<void> {
  await restoreChangeTarget(ctx.fixture);
  await inTemporaryDir(join(ctx.root, `${builder}-round${round}`), async (runDir) => {
    const runs = builder === 'buildkit' ? await measureBuildKit(ctx, round, runDir) : await measureWharf(ctx, builder, round, runDir);
    ctx.results.add(builder, round, runs);
  });
}

function describeFixture(fixture: ContextFixture): string {
  const { spec } = fixture;
  return (
    `${spec.smallFiles.toLocaleString('en-US')} small files (${spec.smallMinBytes}–${spec.smallMaxBytes} B of hex text, ${(fixture.smallBytes / MIB).toFixed(1)} MiB) ` +
    `+ ${spec.bigFiles} × ${(spec.bigFileBytes / MIB).toFixed(0)} MiB random files (${(fixture.bigBytes / MIB).toFixed(0)} MiB)`
  );
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const config = readBuildConfig();
  await holdInstanceLock(BUILDER_BENCH_LOCK);
  const wharfRuns = config.builders.some((builder) => builder !== 'buildkit');
  if (wharfRuns) checkWharfBuilt('set BENCH_BUILDERS=buildkit');
  const withEngine = config.builders.includes('buildkit');
  const dockerVersion = withEngine ? await dockerVersions() : 'not run';
  waitedChildrenCpuSeconds(); // reads the clock tick once, before anything is timed

  const root = await mkdtemp(join(config.tmpParent ?? os.tmpdir(), 'wharf-bench-build-'));
  trackDir(root);
  const tagBase = `wharf-bench-build-${process.pid}`;

  const wharfBin = wharfRuns ? await snapshotWharf(join(root, 'wharf')) : WHARF_BIN;
  logHeader({ title: 'Wharf build benchmark: wharf build vs BuildKit (DOCKER_BUILDKIT=1 docker build)', config, wharfBin: wharfRuns ? wharfBin : undefined, dockerVersion, root });

  const contextDir = join(root, 'context');
  await mkdir(contextDir);
  const started = performance.now();
  const fixture = await generateContextFixture(contextDir, {
    smallFiles: config.smallFiles,
    smallMinBytes: config.smallMinBytes,
    smallMaxBytes: config.smallMaxBytes,
    ...bigFileSplit(config.bigMiB, config.bigFileMiB),
  });
  log(`  context       ${describeFixture(fixture)}; generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  log(`  Dockerfile    ${FIXTURE_DOCKERFILE.trim().split('\n').join(' | ')}`);
  log(`  changed file  ${fixture.changeTarget} (one line appended, different each run)`);
  log('');

  const ctx: Context = {
    config,
    root,
    fixture,
    buildkit: undefined,
    wharfBin,
    tagBase,
    results: new BuilderBenchResults(SCENARIOS),
    outputs: new Map(),
  };
  if (withEngine) {
    const buildkit = new BuildKitBuilder(`${tagBase}:buildkit`, join(root, 'buildkit.iid'));
    ctx.buildkit = buildkit;
    onCleanup(() => buildkit.reset());
  }

  const order = BUILDER_NAMES.filter((name) => config.builders.includes(name));
  await alternatingRounds(order, config.rounds, ctx.results.warnings, (builder, round) => measure(ctx, builder, round));
  await restoreChangeTarget(fixture);

  log('');
  ctx.results.logTables();
  log('');
  log('How this was measured:');
  log('  - Wall time of the whole command, from spawn to exit, as a user would time it at a shell: node start-up');
  log('    and Dockerfile parsing for wharf, the client session and context upload for BuildKit, and exporting');
  log('    the result. `sync` runs before each build; the context is in the page cache for both builders.');
  log('  - Each round runs, per builder: a cold build, a rebuild with nothing changed, then a rebuild after one');
  log('    line was appended to one small file. Builder order alternates between rounds; tables show medians.');
  log('  - Cold, wharf: a new, empty --root. Cold, BuildKit: this benchmark\'s images are removed and the build-cache');
  log('    records its builds created are pruned (`docker builder prune --filter id=…`: the context the client sent');
  log('    before and every step result), so the whole context is sent again and every step runs; the output');
  log('    above shows "context sent" per build. The rest of the engine\'s cache, other users\', is left alone.');
  log('  - Every build is checked: cold runs both COPY steps, the no-change rebuild takes both from cache and');
  log('    gives the same image ID, the one-file rebuild takes COPY big/ from cache and runs COPY small/.');
  log('  - Outputs: BuildKit in dockerd exports into the engine\'s image store (layers unpacked, uncompressed, no');
  log('    archive). "wharf" builds with no --output: layers are written as plain tars into the build root\'s');
  log('    content store (compressed only when an output needs them), nothing is written elsewhere; this is the closest pairing.');
  log('    "wharf+archive" adds --output type=docker,dest=FILE (a docker-load-able tar); its like-for-like peer is');
  log('    BuildKit followed by `docker save` of the image (BuildKit+save = both times added).');
  for (const [what, summary] of ctx.outputs) log(`  - checked once: ${what} has ${summary.layers} layers, ${summary.size.toLocaleString('en-US')} bytes of files`);
  logBuildServerNote();
  log('  - CPU = user+sys of the command\'s process tree; for BuildKit plus dockerd\'s CPU during the build, which');
  log('    counts any other client of the engine at the time.');
  for (const warning of ctx.results.warnings) log(`  ! ${warning}`);
  log('');
  log('Markdown (for the README):');
  log('');
  log(
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineSummary()}, ` +
      `${dockerVersion}; context ${describeFixture(fixture)}; median of ${config.rounds} round(s), \`npm run bench:build\`.`,
  );
  log('');
  log(buildMarkdownTable(ctx.results.measurements, SCENARIOS));
  log('');
  log(buildGoalsMet(ctx.results.measurements, SCENARIOS) ? 'All goals met.' : 'Some goals are NOT met (see the goal column).');
}

runBenchmark('bench:build', main);
