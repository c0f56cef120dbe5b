/**
 * The functions a V8 CPU profile (`node --cpu-prof`, e.g. from BENCH_CPU_PROF_DIR) spent its time in:
 * self time and total time (self plus callees, each function counted once per stack), top N.
 *
 *   node dist/bench/cpu-profile-summary.js [--top N] FILE.cpuprofile|DIR...
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { textTable } from './report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  // Compiled files by their place in the package (dist/…), wherever the benchmark's copy of dist/ was.
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const inDist = path.lastIndexOf('/dist/');
  const file = inDist >= 0 ? path.slice(inDist + 1) : path.startsWith('/') ? relative(process.cwd(), path) : path;
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/** Self and total microseconds per function, over one profile. */
function summarise(profile: Profile): { self: Map<string, number>; total: Map<string, number>; wallUs: number } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the delta to the next sample (V8's own convention for the last one: zero).
    const us = profile.timeDeltas[i + 1] ?? 0;
    let node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const leaf = frameName(node);
    self.set(leaf, (self.get(leaf) ?? 0) + us);
    const seen = new Set<string>();
    while (node) {
      const name = frameName(node);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + us);
      }
      const up = parent.get(node.id);
      node = up === undefined ? undefined : byId.get(up);
    }
  }
  return { self, total, wallUs: profile.endTime - profile.startTime };
}

async function profileFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      for (const entry of (await readdir(path)).sort()) if (entry.endsWith('.cpuprofile')) files.push(join(path, entry));
    } else {
      files.push(path);
    }
  }
  return files;
}

function top(map: Map<string, number>, count: number, wallUs: number): string[][] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => [(us / 1000).toFixed(0), `${((us / wallUs) * 100).toFixed(1)}%`, name]);
}

async function main(): Promise<void> {
  // Piped into head: stop quietly when the reader has gone.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const args = process.argv.slice(2);
  let count = 25;
  const at = args.indexOf('--top');
  if (at >= 0) {
    count = Number(args[at + 1]);
    args.splice(at, 2);
  }
  if (args.length === 0 || !Number.isInteger(count) || count <= 0) {
    process.stderr.write('usage: node dist/bench/cpu-profile-summary.js [--top N] FILE.cpuprofile|DIR...\n');
    process.exitCode = 2;
    return;
  }
  for (const file of await profileFiles(args)) {
    const { self, total, wallUs } = summarise(JSON.parse(await readFile(file, 'utf8')) as Profile);
    const idle = (self.get('(idle)') ?? 0) / 1000;
    process.stdout.write(`${file}: ${(wallUs / 1000).toFixed(0)} ms profiled, ${idle.toFixed(0)} ms idle\n\n`);
    process.stdout.write(`${textTable(['self ms', 'share', 'function'], top(self, count, wallUs), 0)}\n\n`);
    process.stdout.write(`${textTable(['total ms', 'share', 'function (self + callees)'], top(total, count, wallUs), 0)}\n\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
