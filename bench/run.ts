/**
 * `npm run bench:run`: `wharf build` against the Docker engine's BuildKit on a RUN-heavy Dockerfile
 * (one RUN writes many small files and big random ones, a second deletes and changes part of them,
 * a third is small): a cold build and a rebuild with no change, as wall times and wharf/BuildKit
 * ratios (lower is better); then the layer export throughput of the big RUN's tree, wharf's
 * against single-core `tar | gzip`.
 *
 *   BENCH_RUN_SMALL_FILES=2000 BENCH_RUN_BIG_MB=20 BENCH_ROUNDS=1 npm run bench:run     # quick smoke run
 *
 * Environment: BENCH_RUN_SMALL_FILES (20000), BENCH_RUN_BIG_MB (200), BENCH_RUN_BIG_FILE_MB (5), BENCH_ROUNDS (3),
 * BENCH_BUILDERS (buildkit,wharf,wharf-archive), BENCH_DOCKER_SAVE (1), BENCH_CPU_PROF_DIR (none),
 * BENCH_TMPDIR (/var/tmp, see run-config.ts), BENCH_DOCKER_BIN (/usr/bin/docker).
 */
import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshotWharf, WHARF_BIN } from '../test/support/wharf-process.js';
import { pushBusyboxBase } from './base-image.js';
import { BUILDER_NAMES, type BuilderName } from './build-config.js';
import { expectSteps, type StepOutcome } from './build-progress.js';
import { buildGoalsMet, buildMarkdownTable, SCENARIOS, type Scenario } from './build-report.js';
import { alternatingRounds, BUILDER_BENCH_LOCK, BuilderBenchResults, logBuildServerNote, logHeader, machineSummary, type BuildRun, type BuildRuns } from './builder-bench.js';
import { BuildKitBuilder, dockerVersions, imageSummary, loadedArchiveSummary, type ImageSummary } from './buildkit.js';
import { installCleanupHandlers, onCleanup, runBenchmark, trackDir } from './cleanup.js';
import { EXPORT_SERIES, exportMarkdownTable, exportRatio, exportTable, recordExport, type ExportMeasurements, type ExportSeries } from './export-report.js';
import { log, sync } from './host-commands.js';
import { holdInstanceLock } from './instance-lock.js';
import { gnuTarBytes, gzipExport, wharfExport, type ExportRun } from './layer-export.js';
import { waitedChildrenCpuSeconds } from './proc-stats.js';
import { ratioText } from './report.js';
import { readRunConfig, type RunBenchConfig } from './run-config.js';
import { describeRunFixture, generateRunTree, runDockerfile, runSteps } from './run-fixture.js';
import { median, megabytesPerSecond } from './stats.js';
import { runTimed } from './timed-command.js';
import { wharfBuild } from './wharf-build.js';
import { checkWharfBuilt } from './wharf.js';

/** A cold build and a rebuild with nothing changed: a RUN has no context to change. */
const RUN_SCENARIOS = SCENARIOS.filter((scenario) => scenario.key !== 'change');
/** The base image's layer and one per RUN. */
const IMAGE_LAYERS = 1 + 3;

interface Context {
  config: RunBenchConfig;
  root: string;
  contextDir: string;
  /** The big RUN's tree, written on the host, that the layer export measurements read. */
  tree: string;
  treeTarBytes: number;
  buildkit: BuildKitBuilder;
  wharfBin: string;
  tagBase: string;
  results: BuilderBenchResults;
  exports: ExportMeasurements;
  /** Checked once: what the engine and wharf's archive hold, as "N layers, S bytes". */
  outputs: Map<string, ImageSummary>;
  /** Wharf's no-change rebuilds with NODE_EXTRA_CA_CERTS emptied, when this environment sets it (see measureWharf). */
  warmWithoutExtraCa: number[];
}

/**
 * Node reads and parses the file NODE_EXTRA_CA_CERTS names at every start, before any of the program
 * runs: the whole system CA bundle where it points there. Emptying it shows what a wharf command costs
 * on a machine that does not set it (BuildKit's Go client reads no CA file until it needs one).
 */
const WITHOUT_EXTRA_CA = { NODE_EXTRA_CA_CERTS: '' };

/** Cold runs every RUN; the rebuild takes every one from cache. */
function expectedSteps(ctx: Context, scenario: Scenario): StepOutcome[] {
  return runSteps(ctx.config.fixture).map((instruction) => ({ instruction, cached: scenario.key === 'warm' }));
}

/** Every image holds the base and one layer per RUN, more bytes than the big files, and as many as the other builder's image (within 1%). */
function checkOutput(ctx: Context, what: string, summary: ImageSummary): void {
  const { bigFiles, bigFileBytes } = ctx.config.fixture;
  if (summary.layers !== IMAGE_LAYERS || summary.size < bigFiles * bigFileBytes) {
    throw new Error(`${what}: ${summary.layers} layers of ${summary.size} bytes, expected ${IMAGE_LAYERS} layers of more than the ${bigFiles * bigFileBytes} bytes of big files`);
  }
  for (const [other, seen] of ctx.outputs) {
    if (Math.abs(seen.size - summary.size) > seen.size / 100) throw new Error(`${what} has ${summary.size} bytes of files, ${other} ${seen.size}`);
  }
  ctx.outputs.set(what, summary);
}

async function measureBuildKit(ctx: Context, round: number, runDir: string): Promise<BuildRuns> {
  const runs: BuildRuns = new Map();
  for (const scenario of RUN_SCENARIOS) {
    sync();
    const result = await ctx.buildkit.build(ctx.contextDir, { noCache: scenario.key === 'cold' });
    expectSteps(`buildkit, ${scenario.label}`, `${result.stderr}\n${result.stdout}`, expectedSteps(ctx, scenario));
    const run: BuildRun = { seconds: result.ms / 1000, cpuSeconds: result.cpuSeconds + result.engineCpuSeconds, imageId: result.imageId };
    if (scenario.key === 'cold' && round === 1) checkOutput(ctx, 'BuildKit image in the engine', await imageSummary(result.imageId));
    if (ctx.config.dockerSave) run.saveSeconds = await ctx.buildkit.saveSeconds(runDir);
    runs.set(scenario.key, run);
  }
  return runs;
}

async function measureWharf(ctx: Context, builder: 'wharf' | 'wharf-archive', round: number, runDir: string): Promise<BuildRuns> {
  const runs: BuildRuns = new Map();
  const root = join(runDir, 'root');
  const archive = builder === 'wharf-archive' ? join(runDir, 'image.tar') : undefined;
  const buildOptions = { bin: ctx.wharfBin, root, tag: `${ctx.tagBase}:${builder}`, iidFile: join(runDir, 'iid'), archive, network: 'none' as const, serverDir: join(ctx.root, 'build-server') };
  for (const scenario of RUN_SCENARIOS) {
    const cpuProfileDir = ctx.config.cpuProfileDir ? join(ctx.config.cpuProfileDir, `${builder}-round${round}-${scenario.key}`) : undefined;
    sync();
    const result = await wharfBuild(ctx.contextDir, { ...buildOptions, cpuProfileDir });
    expectSteps(`${builder}, ${scenario.label}`, `${result.stderr}\n${result.stdout}`, expectedSteps(ctx, scenario));
    const bigBytes = ctx.config.fixture.bigFiles * ctx.config.fixture.bigFileBytes;
    // Random bytes do not compress: a whole archive is at least as big as the files.
    if (archive && (await stat(archive)).size < bigBytes) throw new Error(`${builder}, ${scenario.label}: ${archive} is smaller than the big files the RUN wrote`);
    runs.set(scenario.key, { seconds: result.ms / 1000, cpuSeconds: result.cpuSeconds, imageId: result.imageId });
  }
  if (builder === 'wharf' && process.env.NODE_EXTRA_CA_CERTS) {
    sync();
    const result = await wharfBuild(ctx.contextDir, { ...buildOptions, env: WITHOUT_EXTRA_CA });
    expectSteps(`${builder}, no change, NODE_EXTRA_CA_CERTS empty`, `${result.stderr}\n${result.stdout}`, expectedSteps(ctx, SCENARIOS.find((s) => s.key === 'warm')!));
    ctx.warmWithoutExtraCa.push(result.ms / 1000);
    log(`  round ${round} ${'wharf'.padEnd(14)} warm ${(result.ms / 1000).toFixed(2)} s with NODE_EXTRA_CA_CERTS empty`);
  }
  if (archive && round === 1) checkOutput(ctx, 'wharf docker archive, after docker load', await loadedArchiveSummary(archive));
  return runs;
}

const NODE_START_RUNS = 5;

/** How long node takes to start and exit doing nothing (with `env` added): the floor of any wharf command's wall time. */
async function nodeStartSeconds(env: Readonly<Record<string, string>> = {}): Promise<number> {
  const seconds: number[] = [];
  for (let i = 0; i < NODE_START_RUNS; i++) seconds.push((await runTimed({ command: process.execPath, args: ['-e', '0'], env: { ...process.env, ...env } })).ms / 1000);
  return median(seconds);
}

/** One round of layer exports of the tree: wharf's and gzip's, in alternating order. */
async function measureExports(ctx: Context, round: number): Promise<void> {
  const runs = new Map<ExportSeries, ExportRun>();
  const exporters: Record<ExportSeries, () => Promise<ExportRun>> = {
    wharf: () => wharfExport(ctx.tree, join(ctx.root, 'export-store')),
    'gzip-6': () => gzipExport(ctx.tree, 6, ctx.treeTarBytes),
    'gzip-1': () => gzipExport(ctx.tree, 1, ctx.treeTarBytes),
  };
  const order = EXPORT_SERIES.map((series) => series.key);
  for (const series of round % 2 === 1 ? order : [...order].reverse()) {
    const run = await exporters[series]();
    runs.set(series, run);
    recordExport(ctx.exports, series, run);
  }
  const summary = order.map((series) => {
    const run = runs.get(series)!;
    return `${series} ${megabytesPerSecond(run.tarBytes, run.seconds * 1000).toFixed(1)} MB/s (${run.seconds.toFixed(2)} s)`;
  });
  log(`  round ${round} ${'layer export'.padEnd(14)} ${summary.join(', ')}`);
}

/**
 * One builder's round, in a directory of its own. Nothing is deleted before the end of the run (build
 * roots, BuildKit's images and cache records), because on ext4 without a journal a file created soon
 * after many were deleted nearby costs far more kernel time: inode allocation reads and skips every
 * inode deleted in the last minutes. Cleaning up after one build made the next one 2–3 times slower.
 */
async function measure(ctx: Context, name: BuilderName | 'export', round: number): Promise<void> {
  if (name === 'export') return measureExports(ctx, round);
  const runDir = join(ctx.root, `${name}-round${round}`);
  await mkdir(runDir);
  const runs = name === 'buildkit' ? await measureBuildKit(ctx, round, runDir) : await measureWharf(ctx, name, round, runDir);
  ctx.results.add(name, round, runs);
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const config = readRunConfig();
  await holdInstanceLock(BUILDER_BENCH_LOCK);
  const wharfRuns = config.builders.some((builder) => builder !== 'buildkit');
  checkWharfBuilt('run `npm run bench:run`, which builds it first (the base image registry is wharf serve)');
  // The engine makes and pushes the base image, whoever builds.
  const dockerVersion = await dockerVersions();
  waitedChildrenCpuSeconds(); // reads the clock tick once, before anything is timed

  const root = await mkdtemp(join(config.tmpParent, 'wharf-bench-run-'));
  trackDir(root);
  const tagBase = `wharf-bench-run-${process.pid}`;
  const wharfBin = wharfRuns ? await snapshotWharf(join(root, 'wharf')) : WHARF_BIN;
  logHeader({ title: 'Wharf RUN benchmark: wharf build vs BuildKit (DOCKER_BUILDKIT=1 docker build) on a RUN-heavy Dockerfile', config, wharfBin: wharfRuns ? wharfBin : undefined, dockerVersion, root });

  const base = await pushBusyboxBase(join(root, 'registry'), `wharf-bench-run-base-${process.pid}`);
  const contextDir = join(root, 'context');
  await mkdir(contextDir);
  const dockerfile = runDockerfile(base, config.fixture);
  await writeFile(join(contextDir, 'Dockerfile'), dockerfile);
  const tree = join(root, 'tree');
  const treeSeconds = await generateRunTree(tree, config.fixture);
  const treeTarBytes = await gnuTarBytes(tree);
  log(`  fixture       ${describeRunFixture(config.fixture)}`);
  log(`  base image    ${base} (wharf serve on loopback; both builders pull it)`);
  log(`  host RUN      the big RUN's command on the host (busybox sh): ${treeSeconds.toFixed(1)} s; its tree is ${(treeTarBytes / 1e6).toFixed(1)} MB of tar`);
  const nodeStart = await nodeStartSeconds();
  log(`  node start    \`node -e 0\`, median of ${NODE_START_RUNS}: ${nodeStart.toFixed(3)} s, the least any wharf command takes`);
  const extraCa = process.env.NODE_EXTRA_CA_CERTS ? { file: process.env.NODE_EXTRA_CA_CERTS, nodeStart: await nodeStartSeconds(WITHOUT_EXTRA_CA) } : undefined;
  if (extraCa) log(`  node start    ${extraCa.nodeStart.toFixed(3)} s with NODE_EXTRA_CA_CERTS (${extraCa.file}) empty: wharf's rebuild is measured both ways`);
  log('  Dockerfile');
  for (const line of dockerfile.trimEnd().split('\n')) log(`    ${line}`);
  log('');

  const buildkit = new BuildKitBuilder(`${tagBase}:buildkit`, join(root, 'buildkit.iid'));
  onCleanup(() => buildkit.reset());
  const ctx: Context = {
    config,
    root,
    contextDir,
    tree,
    treeTarBytes,
    buildkit,
    wharfBin,
    tagBase,
    results: new BuilderBenchResults(RUN_SCENARIOS),
    exports: new Map(),
    outputs: new Map(),
    warmWithoutExtraCa: [],
  };

  const order: (BuilderName | 'export')[] = [...BUILDER_NAMES.filter((name) => config.builders.includes(name)), 'export'];
  await alternatingRounds(order, config.rounds, ctx.results.warnings, (name, round) => measure(ctx, name, round));

  log('');
  ctx.results.logTables();
  log('');
  log(exportTable(ctx.exports));
  log('');
  log('How this was measured:');
  log('  - Wall time of the whole command, from spawn to exit, as a user would time it at a shell: node start-up');
  log('    and Dockerfile parsing for wharf, the client session for BuildKit, pulling the base image, running the');
  log('    RUN steps in runc over overlayfs (both builders, no network), and exporting the result. `sync` runs before');
  log(`    each build. The big RUN's command alone takes ${treeSeconds.toFixed(1)} s on the host: every cold build pays that first.`);
  log(`  - A no-change rebuild cannot take less than node's own start-up (${nodeStart.toFixed(3)} s here); BuildKit's is a`);
  log('    request from the docker client to a daemon that is already running, with its modules loaded.');
  const extraCaLine = extraCa && extraCaSentence(ctx, extraCa.file, nodeStart, extraCa.nodeStart);
  if (extraCaLine) log(`  - ${extraCaLine}`);
  log('  - Each round runs, per builder: a cold build, then a rebuild with nothing changed. Builder order alternates');
  log('    between rounds; tables show medians.');
  log(`  - wharf's build roots are in ${config.tmpParent} (BENCH_TMPDIR), not /tmp, where other processes delete files all`);
  log('    the time (same reason); BuildKit\'s RUN steps write under /var/lib/docker.');
  log('  - Cold, wharf: a new, empty --root. Cold, BuildKit: `--no-cache`. Nothing is deleted until the end (build');
  log('    roots, this benchmark\'s images and the build-cache records its builds created; the rest of the engine\'s');
  log('    cache is left alone): on ext4 without a journal, creating files soon after many were deleted nearby costs');
  log('    several times the kernel time (see measure() in bench/run.ts).');
  log('  - Every build is checked: cold runs the three RUN steps, the rebuild takes all three from cache and gives the');
  log('    same image ID.');
  log('  - Outputs: BuildKit in dockerd exports into the engine\'s image store (layers unpacked, uncompressed, no');
  log('    archive). "wharf" builds with no --output: layers are written as plain tars into the build root\'s');
  log('    content store (compressed only when an output needs them) and the image ID is the config\'s digest. "wharf+archive" adds --output type=docker,dest=FILE; its');
  log('    like-for-like peer is BuildKit followed by `docker save` of the image (BuildKit+save = both times added).');
  for (const [what, summary] of ctx.outputs) log(`  - checked once: ${what} has ${summary.layers} layers, ${summary.size.toLocaleString('en-US')} bytes of files`);
  logBuildServerNote();
  log('  - CPU = user+sys of the command\'s process tree, the RUN steps\' processes included; for BuildKit plus');
  log('    dockerd\'s CPU during the build (its RUN steps run as children of dockerd), which counts any other client');
  log('    of the engine at the time.');
  log('  - Layer export: the big RUN\'s command run once on the host gives a tree like its upper dir. Wharf exports it');
  log('    in this process as the builder does (overlayDiff, then writeLayer: tar, parallel gzip -6 on every core,');
  log('    sha256 of tar and blob, into a content store on disk); `tar -cf - DIR | gzip -N | wc -c` is one gzip on');
  log('    one core. MB/s = bytes of uncompressed tar (each tool\'s own) per second; the tree is in the page cache.');
  log(`  - Layer export, wharf over tar | gzip -6: ${ratioText(exportRatio(ctx.exports))} the throughput.`);
  for (const warning of ctx.results.warnings) log(`  ! ${warning}`);
  log('');
  log('Markdown (for the README):');
  log('');
  log(
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineSummary()}, ${dockerVersion}; ` +
      `${describeRunFixture(config.fixture)}; median of ${config.rounds} round(s), \`npm run bench:run\`.`,
  );
  log('');
  log(buildMarkdownTable(ctx.results.measurements, RUN_SCENARIOS));
  log('');
  log(`Layer export of the big RUN's tree (${(treeTarBytes / 1e6).toFixed(0)} MB of tar), MB/s of uncompressed tar:`);
  log('');
  log(exportMarkdownTable(ctx.exports));
  log('');
  if (extraCaLine) {
    log(extraCaLine);
    log('');
  }
  log(buildGoalsMet(ctx.results.measurements, RUN_SCENARIOS) ? 'All goals met.' : 'Some goals are NOT met (see the goal column).');
}

/** What wharf's no-change rebuild takes when node does not load NODE_EXTRA_CA_CERTS, against BuildKit's; undefined if not measured. */
function extraCaSentence(ctx: Context, file: string, nodeStart: number, nodeStartWithout: number): string | undefined {
  if (ctx.warmWithoutExtraCa.length === 0) return undefined;
  const wharf = median(ctx.warmWithoutExtraCa);
  const buildkit = median(ctx.results.measurements.get('warm')?.get('buildkit') ?? []);
  return (
    `This environment sets NODE_EXTRA_CA_CERTS=${file}, which node reads and parses at every start (\`node -e 0\`: ` +
    `${nodeStart.toFixed(3)} s, ${nodeStartWithout.toFixed(3)} s without). With it empty, Wharf's no-change rebuild took ` +
    `${wharf.toFixed(2)} s (median of ${ctx.warmWithoutExtraCa.length}): ${ratioText(wharf / buildkit)} BuildKit's ${buildkit.toFixed(2)} s.`
  );
}

runBenchmark('bench:run', main);
