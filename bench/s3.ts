/**
 * `npm run bench:s3`: `wharf serve` on the S3 driver, against s3rver on this machine, next to the
 * filesystem driver: a blob pushed in one request, pushed in chunks (on one instance, and
 * alternating between two instances of one registry), and pulled; and the S3 requests each push makes.
 *
 *   BENCH_BLOB_MB=64 BENCH_ROUNDS=1 npm run bench:s3     # quick smoke run
 *
 * Environment: BENCH_BLOB_MB (1024), BENCH_CHUNK_MB (10), BENCH_ROUNDS (3), BENCH_TMPDIR (OS temp dir).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { startS3Server, S3RVER_ENV, type S3Server } from '../test/support/s3-server.js';
import { installCleanupHandlers, removeDir, runBenchmark, trackChild, trackDir } from './cleanup.js';
import { positiveInteger } from './config.js';
import { measureHashThroughput } from './hash-state.js';
import { log, sync, tryCommand } from './host-commands.js';
import { cpuSeconds } from './proc-stats.js';
import { writeRandomBlob, type BlobFile } from './random-blob.js';
import { RegistryClient } from './registry-client.js';
import type { RunningServer } from './measured-server.js';
import { fmt, markdownGrid, record, textTable, type Measurements } from './report.js';
import { median, megabytesPerSecond } from './stats.js';
import { checkWharfBuilt, startWharf } from './wharf.js';

type StorageName = 'filesystem' | 's3';
const STORAGES: StorageName[] = ['filesystem', 's3'];
const REPO = 'bench/s3';
const MiB = 1024 * 1024;

interface Metric {
  key: string;
  label: string;
  digits: number;
}

/** A registry (one or two `wharf serve` instances) on fresh storage of one kind; stop() removes it all. */
interface Registry {
  readonly instances: RunningServer[];
  readonly s3?: S3Server;
  stop(): Promise<void>;
}

async function startRegistry(storage: StorageName, dir: string, instances: number): Promise<Registry> {
  await mkdir(dir);
  trackDir(dir);
  let s3: S3Server | undefined;
  let spec: { storage?: string; env?: Readonly<Record<string, string>> } = {};
  if (storage === 's3') {
    s3 = await startS3Server({ log: true });
    trackChild(s3.child);
    spec = { storage: await s3.bucket('bench'), env: S3RVER_ENV };
  }
  const servers: RunningServer[] = [];
  for (let i = 0; i < instances; i++) servers.push(await startWharf(dir, spec));
  return {
    instances: servers,
    s3,
    async stop() {
      for (const server of servers) await server.stop();
      await s3?.stop();
      await removeDir(dir);
    },
  };
}

/** The S3 operation an s3rver request line stands for. */
function operation(line: string): string {
  const [method, url] = line.split(' ') as [string, string];
  const query = new URL(url, 'http://s3').searchParams;
  if (line.includes(' (copy')) return query.has('partNumber') ? 'UploadPartCopy' : 'CopyObject';
  if (method === 'PUT' && query.has('partNumber')) return 'UploadPart';
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload';
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload';
  if (method === 'DELETE' && query.has('uploadId')) return 'AbortMultipartUpload';
  if (method === 'POST' && query.has('delete')) return 'DeleteObjects';
  if (method === 'GET' && query.has('list-type')) return 'ListObjectsV2';
  return { GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject', DELETE: 'DeleteObject' }[method] ?? method;
}

function countByOperation(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(operation(line), (counts.get(operation(line)) ?? 0) + 1);
  return new Map([...counts].sort((a, b) => b[1] - a[1]));
}

async function checkBlob(client: RegistryClient, blob: BlobFile): Promise<void> {
  const head = await client.request('HEAD', `/v2/${REPO}/blobs/${blob.digest}`);
  if (head.status !== 200 || head.headers['content-length'] !== String(blob.size)) {
    throw new Error(`HEAD after push: status ${head.status}, Content-Length ${head.headers['content-length']} (expected 200, ${blob.size})`);
  }
}

interface RoundContext {
  root: string;
  blob: BlobFile;
  chunkSize: number;
  measurements: Measurements<StorageName>;
  breakdowns: Map<string, Map<string, number>>;
}

/** One storage kind, one round: each scenario on a registry of its own, so every push is a first. */
async function measure(ctx: RoundContext, storage: StorageName, round: number): Promise<string[]> {
  const { blob, measurements } = ctx;
  const requestsOf = (registry: Registry) => registry.s3?.requests() ?? [];
  const scenario = async <T>(name: string, instances: number, work: (registry: Registry, clients: RegistryClient[]) => Promise<T>) => {
    const registry = await startRegistry(storage, join(ctx.root, `${storage}-${name}-${round}`), instances);
    const clients = registry.instances.map((server) => new RegistryClient(server.baseUrl));
    try {
      return await work(registry, clients);
    } catch (error) {
      const tail = registry.instances.map((server) => server.stderrTail()).join('\n');
      if (error instanceof Error && tail) error.message += `\n--- wharf stderr (tail) ---\n${tail}`;
      throw error;
    } finally {
      for (const client of clients) client.close();
      await registry.stop();
    }
  };

  // Monolithic push, then pull, on one registry.
  await scenario('mono', 1, async (registry, [client]) => {
    const server = registry.instances[0]!;
    registry.s3?.clearRequests();
    sync();
    let cpu = server.cpuSeconds();
    const pushMs = await client!.pushBlobFile(REPO, blob.path, blob.size, blob.digest);
    const requests = requestsOf(registry);
    record(measurements, 'pushCpu', storage, server.cpuSeconds() - cpu);
    record(measurements, 'push', storage, megabytesPerSecond(blob.size, pushMs));
    await checkBlob(client!, blob);
    if (registry.s3) {
      record(measurements, 'monoRequests', storage, requests.length);
      ctx.breakdowns.set('monolithic push', countByOperation(requests));
    }
    sync();
    cpu = server.cpuSeconds();
    const s3Cpu = registry.s3 ? cpuSeconds(registry.s3.child.pid!) : NaN;
    const pull = await client!.pullBlob(REPO, blob.digest);
    if (pull.bytes !== blob.size || pull.digest !== blob.digest) {
      throw new Error(`pull returned ${pull.bytes} bytes with ${pull.digest}, expected ${blob.size} bytes with ${blob.digest}`);
    }
    record(measurements, 'pull', storage, megabytesPerSecond(blob.size, pull.ms));
    record(measurements, 'pullCpu', storage, server.cpuSeconds() - cpu);
    if (registry.s3) record(measurements, 'pullS3Cpu', storage, cpuSeconds(registry.s3.child.pid!) - s3Cpu);
  });

  // Chunked push on one instance: the running hash stays in its memory.
  await scenario('chunked', 1, async (registry, [client]) => {
    sync();
    registry.s3?.clearRequests();
    const ms = await client!.pushBlobFileChunked(REPO, blob.path, blob.size, blob.digest, ctx.chunkSize);
    const requests = requestsOf(registry);
    record(measurements, 'chunked', storage, megabytesPerSecond(blob.size, ms));
    await checkBlob(client!, blob);
    if (registry.s3) {
      record(measurements, 'chunkedRequests', storage, requests.length);
      ctx.breakdowns.set('chunked push', countByOperation(requests));
    }
  });

  // Chunked push alternating between two instances: the PUT lands on the one that did not write last, which re-hashes the stored blob.
  await scenario('two', 2, async (_registry, clients) => {
    sync();
    const ms = await clients[0]!.pushBlobFileChunked(REPO, blob.path, blob.size, blob.digest, ctx.chunkSize, clients);
    record(measurements, 'twoInstances', storage, megabytesPerSecond(blob.size, ms));
    await checkBlob(clients[0]!, blob);
  });

  const value = (key: string, digits: number) => fmt(measurements.get(key)?.get(storage)?.at(-1) ?? NaN, digits);
  return [String(round), storage, value('push', 1), value('chunked', 1), value('twoInstances', 1), value('pull', 1), value('chunkedRequests', 0)];
}

async function main(): Promise<void> {
  installCleanupHandlers();
  checkWharfBuilt('build it first');
  const blobMiB = positiveInteger('BENCH_BLOB_MB', 1024);
  const chunkMiB = positiveInteger('BENCH_CHUNK_MB', 10);
  const rounds = positiveInteger('BENCH_ROUNDS', 3);
  const root = await mkdtemp(join(process.env.BENCH_TMPDIR || os.tmpdir(), 'wharf-bench-s3-'));
  trackDir(root);

  log('Wharf registry on S3 (s3rver) and on the filesystem');
  log(`  date          ${new Date().toISOString()}`);
  log(`  machine       ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, node ${process.version}`);
  log(`  wharf         git ${tryCommand('git', ['describe', '--always', '--dirty']) ?? 'unknown'}`);
  log(`  blob          ${blobMiB} MiB random data; chunks ${chunkMiB} MiB; rounds ${rounds}; S3 parts 8 MiB (the default)`);
  log(`  load average  ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const hash = measureHashThroughput(256);
  log(`  sha256        node:crypto ${hash.native.toFixed(0)} MB/s, sha.js (state can be saved) ${hash.resumable.toFixed(0)} MB/s`);
  const blob = await writeRandomBlob(join(root, 'blob.bin'), blobMiB * MiB);
  log('');

  const ctx: RoundContext = { root, blob, chunkSize: chunkMiB * MiB, measurements: new Map(), breakdowns: new Map() };
  const rows: string[][] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const storage of round % 2 ? STORAGES : [...STORAGES].reverse()) {
      const row = await measure(ctx, storage, round);
      rows.push(row);
      log(`  round ${round} ${storage.padEnd(10)} push ${row[2]}, chunked ${row[3]}, two instances ${row[4]}, pull ${row[5]} MB/s`);
    }
  }

  const size = `${blobMiB} MiB`;
  const metrics: Metric[] = [
    { key: 'push', label: `Blob push, monolithic, ${size} (MB/s)`, digits: 1 },
    { key: 'chunked', label: `Blob push, ${chunkMiB} MiB PATCHes, ${size} (MB/s)`, digits: 1 },
    { key: 'twoInstances', label: `Blob push, ${chunkMiB} MiB PATCHes alternating two instances (MB/s)`, digits: 1 },
    { key: 'pull', label: `Blob pull, ${size} (MB/s)`, digits: 1 },
    { key: 'pushCpu', label: 'wharf CPU per monolithic push (s)', digits: 2 },
    { key: 'pullCpu', label: 'wharf CPU per pull (s)', digits: 2 },
    { key: 'pullS3Cpu', label: 's3rver CPU per pull (s)', digits: 2 },
    { key: 'monoRequests', label: 'S3 requests per monolithic push', digits: 0 },
    { key: 'chunkedRequests', label: `S3 requests per ${chunkMiB} MiB-chunked push`, digits: 0 },
  ];
  const body = metrics.map((m) => [m.label, ...STORAGES.map((s) => fmt(median(ctx.measurements.get(m.key)?.get(s) ?? []), m.digits))]);
  log('');
  log('Per round (MB/s):');
  log(textTable(['round', 'storage', 'push', 'chunked', 'two instances', 'pull', 'S3 requests (chunked)'], rows, 2));
  log('');
  log(textTable(['metric (median of rounds)', 'filesystem', 'S3 (s3rver)'], body));
  for (const [what, counts] of ctx.breakdowns) {
    log('');
    log(`S3 requests of one ${what} (last round): ${[...counts].map(([op, n]) => `${op} ${n}`).join(', ')}`);
  }
  log('');
  log('Markdown (for the README):');
  log('');
  log(markdownGrid(['Metric', 'filesystem', 'S3 (s3rver, same machine)'], body));
}

runBenchmark('bench', main);
