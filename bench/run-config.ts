/** RUN benchmark settings, read once from the environment: the builder benchmarks' own plus the size of the tree the RUN writes. */
import { bigFileSplit, readBuilderBenchSettings, type BuilderBenchSettings } from './build-config.js';
import { positiveInteger } from './config.js';
import type { RunFixtureSpec } from './run-fixture.js';

export interface RunBenchConfig extends BuilderBenchSettings {
  /** What the big RUN writes: BENCH_RUN_SMALL_FILES (20000) small files, and BENCH_RUN_BIG_MB (200) MiB in files of BENCH_RUN_BIG_FILE_MB (5). */
  fixture: RunFixtureSpec;
}

export function readRunConfig(): RunBenchConfig {
  return {
    ...readBuilderBenchSettings(),
    fixture: {
      smallFiles: positiveInteger('BENCH_RUN_SMALL_FILES', 20_000),
      ...bigFileSplit(positiveInteger('BENCH_RUN_BIG_MB', 200), positiveInteger('BENCH_RUN_BIG_FILE_MB', 5)),
    },
  };
}
