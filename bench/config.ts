/** Benchmark settings, read once from the environment so a quick smoke run is one variable away. */

export type ServerName = 'wharf' | 'distribution';

export interface BenchConfig {
  /** Size of the pushed/pulled blob in MiB (BENCH_BLOB_MB, default 1024). */
  blobMiB: number;
  /** Measured wrk duration per server per round (BENCH_WRK_SECONDS, default 10). */
  wrkSeconds: number;
  /** Discarded wrk run before the measured one (BENCH_WRK_WARMUP_SECONDS, default 2, 0 disables). */
  wrkWarmupSeconds: number;
  /** Number of rounds; each round measures every server once (BENCH_ROUNDS, default 3). */
  rounds: number;
  /** wrk threads and connections (fixed by the benchmark definition). */
  wrkThreads: number;
  wrkConnections: number;
  /** Servers to run (BENCH_SERVERS, default "wharf,distribution"). */
  servers: ServerName[];
  /** Parent of the benchmark's temporary directory (BENCH_TMPDIR, default the OS temp dir). */
  tmpParent: string | undefined;
}

/** A non-negative (allowZero) or positive number from the environment variable `name`, else `fallback`. */
function positiveNumber(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  }
  return value;
}

/** As positiveNumber, and whole. */
export function positiveInteger(name: string, fallback: number, allowZero = false): number {
  const value = positiveNumber(name, fallback, allowZero);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got "${process.env[name]}"`);
  return value;
}

function serverList(): ServerName[] {
  const raw = process.env.BENCH_SERVERS ?? 'wharf,distribution';
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const known: ServerName[] = ['wharf', 'distribution'];
  for (const name of names) {
    if (!(known as string[]).includes(name)) throw new Error(`BENCH_SERVERS: unknown server "${name}" (known: ${known.join(', ')})`);
  }
  if (names.length === 0) throw new Error('BENCH_SERVERS lists no server');
  return [...new Set(names)] as ServerName[];
}

export function readConfig(): BenchConfig {
  return {
    blobMiB: positiveInteger('BENCH_BLOB_MB', 1024),
    wrkSeconds: positiveInteger('BENCH_WRK_SECONDS', 10),
    wrkWarmupSeconds: positiveInteger('BENCH_WRK_WARMUP_SECONDS', 2, true),
    rounds: positiveInteger('BENCH_ROUNDS', 3),
    wrkThreads: 2,
    wrkConnections: 32,
    servers: serverList(),
    tmpParent: process.env.BENCH_TMPDIR || undefined,
  };
}
