/** RUN benchmark settings, read once from the environment: the builder benchmarks' own plus the size of the tree the RUN writes. */
import { bigFileSplit, readBuilderBenchSettings, type BuilderBenchSettings } from './build-config.js';
import { positiveInteger } from './config.js';
import type { RunFixtureSpec } from './run-fixture.js';

/**
 * Where the temporary directory goes unless BENCH_TMPDIR says: wharf's build roots, where its RUN
 * steps create their files, must not be under /tmp, where every process on a shared machine creates
 * and deletes files. On ext4 without a journal, creating the fixture's 20,000 files there took 2–4
 * times as long (kernel time: inode allocation skips recently deleted inodes) as elsewhere on the
 * same filesystem, while BuildKit's RUN steps write under /var/lib/docker.
 */
const DEFAULT_TMP_PARENT = '/var/tmp';

export interface RunBenchConfig extends BuilderBenchSettings {
  tmpParent: string;
  /** What the big RUN writes: BENCH_RUN_SMALL_FILES (20000) small files, and BENCH_RUN_BIG_MB (200) MiB in files of BENCH_RUN_BIG_FILE_MB (5). */
  fixture: RunFixtureSpec;
}

/** The settings, from the environment. */
export function readRunConfig(): RunBenchConfig {
  const settings = readBuilderBenchSettings();
  return {
    ...settings,
    tmpParent: settings.tmpParent ?? DEFAULT_TMP_PARENT,
    fixture: {
      smallFiles: positiveInteger('BENCH_RUN_SMALL_FILES', 20_000),
      ...bigFileSplit(positiveInteger('BENCH_RUN_BIG_MB', 200), positiveInteger('BENCH_RUN_BIG_FILE_MB', 5)),
    },
  };
}
