/** Builder benchmark settings, read once from the environment so a quick smoke run is one variable away. */
import { positiveInteger } from './config.js';

/** Who builds: the engine's BuildKit, wharf with no output, wharf writing a docker archive. */
export type BuilderName = 'buildkit' | 'wharf' | 'wharf-archive';

export const BUILDER_NAMES: readonly BuilderName[] = ['buildkit', 'wharf', 'wharf-archive'];

/** What every builder benchmark reads: rounds, builders, docker save, profiling, temp dir. */
export interface BuilderBenchSettings {
  /** Rounds; each round measures every builder once (BENCH_ROUNDS, default 3). */
  rounds: number;
  /** Builders to run (BENCH_BUILDERS, default "buildkit,wharf,wharf-archive"). */
  builders: BuilderName[];
  /** Also time `docker save` after each BuildKit build (BENCH_DOCKER_SAVE, default 1; 0 skips it). */
  dockerSave: boolean;
  /** Write V8 CPU profiles of every wharf run here (BENCH_CPU_PROF_DIR; profiling slows wharf down). */
  cpuProfileDir: string | undefined;
  /** Parent of the benchmark's temporary directory (BENCH_TMPDIR, default the OS temp dir). */
  tmpParent: string | undefined;
}

export interface BuildBenchConfig extends BuilderBenchSettings {
  /** Small files in the context (BENCH_SMALL_FILES, default 20000). */
  smallFiles: number;
  /** Their size range in bytes (BENCH_SMALL_MIN_BYTES 100, BENCH_SMALL_MAX_BYTES 4096). */
  smallMinBytes: number;
  smallMaxBytes: number;
  /** Total size of the big incompressible files in MiB (BENCH_BIG_MB, default 200), in files of BENCH_BIG_FILE_MB (5). */
  bigMiB: number;
  bigFileMiB: number;
}

function builderList(): BuilderName[] {
  const raw = process.env.BENCH_BUILDERS ?? BUILDER_NAMES.join(',');
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (!(BUILDER_NAMES as readonly string[]).includes(name)) throw new Error(`BENCH_BUILDERS: unknown builder "${name}" (known: ${BUILDER_NAMES.join(', ')})`);
  }
  if (names.length === 0) throw new Error('BENCH_BUILDERS lists no builder');
  return [...new Set(names)] as BuilderName[];
}

const MIB = 1024 * 1024;

/** `totalMiB` of big files in files of about `fileMiB` each: how many, and the bytes of each. */
export function bigFileSplit(totalMiB: number, fileMiB: number): { bigFiles: number; bigFileBytes: number } {
  const bigFiles = Math.max(1, Math.round(totalMiB / fileMiB));
  return { bigFiles, bigFileBytes: Math.round((totalMiB * MIB) / bigFiles) };
}

/** The settings every builder benchmark shares, from the environment. */
export function readBuilderBenchSettings(): BuilderBenchSettings {
  return {
    rounds: positiveInteger('BENCH_ROUNDS', 3),
    builders: builderList(),
    dockerSave: positiveInteger('BENCH_DOCKER_SAVE', 1, true) !== 0,
    cpuProfileDir: process.env.BENCH_CPU_PROF_DIR || undefined,
    tmpParent: process.env.BENCH_TMPDIR || undefined,
  };
}

export function readBuildConfig(): BuildBenchConfig {
  const config: BuildBenchConfig = {
    ...readBuilderBenchSettings(),
    smallFiles: positiveInteger('BENCH_SMALL_FILES', 20_000),
    smallMinBytes: positiveInteger('BENCH_SMALL_MIN_BYTES', 100),
    smallMaxBytes: positiveInteger('BENCH_SMALL_MAX_BYTES', 4096),
    bigMiB: positiveInteger('BENCH_BIG_MB', 200),
    bigFileMiB: positiveInteger('BENCH_BIG_FILE_MB', 5),
  };
  if (config.smallMinBytes > config.smallMaxBytes) throw new Error('BENCH_SMALL_MIN_BYTES is larger than BENCH_SMALL_MAX_BYTES');
  return config;
}
