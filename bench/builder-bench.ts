/**
 * What the builder benchmarks (bench:build, bench:run) share: the report's header, rounds that
 * alternate the order of what they measure, and each builder's builds of a round turned into
 * measurements, a log line and the per-round table.
 */
import os from 'node:os';
import type { BuilderBenchSettings, BuilderName } from './build-config.js';
import { buildCpuTable, buildSummaryTable, type BuildMeasurements, type Scenario } from './build-report.js';
import { log, tryCommand } from './host-commands.js';
import { record, textTable } from './report.js';

/** The lock every builder benchmark holds: two at once would time each other and share dockerd's cache bookkeeping. */
export const BUILDER_BENCH_LOCK = 'wharf-bench-build';

/** What one build left behind, for the checks and the per-round log. */
export interface BuildRun {
  seconds: number;
  cpuSeconds: number;
  imageId: string;
  /** BuildKit's "transferring context: …" figure: how much of the context the client sent. */
  contextSent?: string;
  saveSeconds?: number;
}

/** One builder's builds in one round, by scenario. */
export type BuildRuns = Map<Scenario['key'], BuildRun>;

/** What a builder benchmark gathers as it runs. */
export class BuilderBenchResults {
  readonly measurements: BuildMeasurements = new Map();
  readonly warnings: string[] = [];
  private readonly rounds: { round: number; builder: BuilderName; runs: BuildRuns }[] = [];

  constructor(readonly scenarios: readonly Scenario[]) {}

  /**
   * Records one builder's builds of one round, after checking that the no-change rebuild gave the
   * cold build's image and a rebuild after a change another one.
   */
  add(builder: BuilderName, round: number, runs: BuildRuns): void {
    const cold = runs.get('cold')?.imageId;
    const warm = runs.get('warm')?.imageId;
    const change = runs.get('change')?.imageId;
    if (warm !== cold) throw new Error(`${builder}: the rebuild with no change gave image ${warm}, the cold build ${cold}`);
    if (change !== undefined && change === warm) throw new Error(`${builder}: the rebuild after a change gave the same image ${change}`);
    for (const scenario of this.scenarios) {
      const run = runs.get(scenario.key)!;
      record(this.measurements, scenario.key, builder, run.seconds);
      record(this.measurements, `${scenario.key}.cpu`, builder, run.cpuSeconds);
      if (run.saveSeconds !== undefined) record(this.measurements, scenario.key, 'buildkit-save', run.seconds + run.saveSeconds);
    }
    this.rounds.push({ round, builder, runs });
    const summary = this.scenarios.map((scenario) => {
      const run = runs.get(scenario.key)!;
      const extras = [run.contextSent ? `context sent ${run.contextSent}` : '', run.saveSeconds !== undefined ? `docker save ${run.saveSeconds.toFixed(2)} s` : ''].filter(Boolean);
      return `${scenario.key} ${run.seconds.toFixed(2)} s${extras.length ? ` (${extras.join(', ')})` : ''}`;
    });
    log(`  round ${round} ${builder.padEnd(14)} ${summary.join(', ')}`);
  }

  /** Per round and builder: wall and CPU seconds, docker save and context sent where there are any; then the medians and ratios. */
  logTables(): void {
    const all = this.rounds.flatMap(({ runs }) => [...runs.values()]);
    const withSave = all.some((run) => run.saveSeconds !== undefined);
    const withSent = all.some((run) => run.contextSent !== undefined);
    const columns = (key: string) => [`${key} s`, `${key} CPU`, ...(withSave ? [`${key} save`] : []), ...(withSent ? [`${key} sent`] : [])];
    const rows = this.rounds.map(({ round, builder, runs }) => [
      String(round),
      builder,
      ...this.scenarios.flatMap((scenario) => {
        const run = runs.get(scenario.key)!;
        const cells = [run.seconds.toFixed(2), run.cpuSeconds.toFixed(1)];
        if (withSave) cells.push(run.saveSeconds?.toFixed(2) ?? '');
        if (withSent) cells.push(run.contextSent ?? '');
        return cells;
      }),
    ]);
    const what = ['wall s', 'CPU s', ...(withSave ? ['docker save s'] : []), ...(withSent ? ['context sent by the docker client'] : [])];
    log(`Per round (${what.join(', ')}):`);
    log(textTable(['round', 'builder', ...this.scenarios.flatMap((scenario) => columns(scenario.key))], rows, 2));
    log('');
    log(buildSummaryTable(this.measurements, this.scenarios));
    log('');
    log(buildCpuTable(this.measurements, this.scenarios));
  }
}

/**
 * Runs `rounds` rounds, each measuring every name once: in the given order in odd rounds and the
 * reverse in even ones, so no one always goes first. A round that starts under load is noted in `warnings`.
 */
export async function alternatingRounds<Name>(names: readonly Name[], rounds: number, warnings: string[], measure: (name: Name, round: number) => Promise<void>): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    const load = os.loadavg()[0]!;
    if (load > 1) warnings.push(`round ${round} started with a 1-minute load average of ${load.toFixed(2)} on ${os.availableParallelism()} cores: other processes competed with the measurements`);
    log(`round ${round} (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    for (const name of round % 2 === 1 ? names : [...names].reverse()) await measure(name, round);
  }
}

/** "2 cores (AMD EPYC …), node v20…": the machine, as the README's Markdown line names it. */
export function machineSummary(): string {
  return `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`;
}

/** What the report's header says about the run. */
export interface HeaderFacts {
  title: string;
  config: BuilderBenchSettings;
  /** The wharf CLI that builds, or undefined when no wharf builder runs. */
  wharfBin: string | undefined;
  dockerVersion: string;
  root: string;
}

/** How wharf's builds run in both builder benchmarks: on its build server, as BuildKit's run on buildkitd. */
export function logBuildServerNote(): void {
  log('  - wharf build hands its builds to a `wharf build-server` (the peer of buildkitd in dockerd): the first build of');
  log('    the run starts it in the background and builds in its own process; every later build is the server\'s. Its CPU');
  log('    during a build counts in wharf\'s. BENCH_CPU_PROF_DIR turns the server off (every build in its own process).');
}

/** The report's header: date, machine, node, the builders' versions, builders and rounds, the temporary directory. */
export function logHeader({ title, config, wharfBin, dockerVersion, root }: HeaderFacts): void {
  const withEngine = config.builders.includes('buildkit');
  log(title);
  log(`  date          ${new Date().toISOString()}`);
  log(`  machine       ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}`);
  log(`  node          ${process.version}`);
  if (wharfBin) {
    const gitRev = tryCommand('git', ['describe', '--always', '--dirty']) ?? 'unknown';
    const version = (tryCommand(process.execPath, [wharfBin, '--version']) ?? 'unknown version').replace(/^wharf\s+/, '');
    log(`  wharf         ${version}, git ${gitRev}; dist/ copied at start, so a rebuild during the run changes nothing`);
  } else {
    log('  wharf         not run');
  }
  log(`  BuildKit      ${dockerVersion}`);
  log(`  builders      ${config.builders.join(', ')}; rounds ${config.rounds}${config.dockerSave && withEngine ? '; docker save timed after each BuildKit build' : ''}`);
  log(`  temp dir      ${root}`);
  if (config.cpuProfileDir) log(`  ! CPU profiles of wharf go to ${config.cpuProfileDir}: profiling slows wharf down, do not quote these times`);
}
