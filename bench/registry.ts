/**
 * `npm run bench`: Wharf's registry server against CNCF distribution 2.8 on this machine, same run.
 *
 *   BENCH_BLOB_MB=64 BENCH_WRK_SECONDS=2 BENCH_ROUNDS=1 npm run bench     # quick smoke run
 *
 * Environment: BENCH_BLOB_MB (1024), BENCH_WRK_SECONDS (10), BENCH_WRK_WARMUP_SECONDS (2),
 * BENCH_ROUNDS (3), BENCH_SERVERS (wharf,distribution), BENCH_TMPDIR (OS temp dir).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { WHARF_BIN } from '../test/support/wharf-process.js';
import { installCleanupHandlers, removeDir, runBenchmark, trackDir } from './cleanup.js';
import { readConfig, type BenchConfig, type ServerName } from './config.js';
import { distributionVersion, startDistribution } from './distribution.js';
import { buildImageFixture, type ImageFixture } from './image-fixture.js';
import { writeRandomBlob, type BlobFile } from './random-blob.js';
import { RegistryClient } from './registry-client.js';
import type { RunningServer } from './measured-server.js';
import { goalsMet, markdownTable, record, summaryTable, textTable, type Measurements, type Metric } from './report.js';
import { megabytesPerSecond } from './stats.js';
import { checkWharfBuilt, startWharf } from './wharf.js';
import { checkWrk, runWrk } from './wrk.js';
import { log, sync, tryCommand } from './host-commands.js';

const REPO = 'bench';
const TAG = 'latest';
const ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';

function metricsFor(config: BenchConfig): Metric[] {
  const size = `${config.blobMiB} MiB`;
  return [
    { key: 'push', label: `Blob push, monolithic, ${size}`, unit: 'MB/s', higherIsBetter: true, digits: 1, goal: 1.0 },
    { key: 'pull', label: `Blob pull, ${size}`, unit: 'MB/s', higherIsBetter: true, digits: 1, goal: 1.0 },
    { key: 'rps', label: `Manifest GET by tag, ${config.wrkConnections} connections`, unit: 'req/s', higherIsBetter: true, digits: 0, goal: 3.0 },
    { key: 'p50', label: 'Manifest GET latency p50', unit: 'ms', higherIsBetter: false, digits: 2 },
    { key: 'p99', label: 'Manifest GET latency p99', unit: 'ms', higherIsBetter: false, digits: 2 },
    { key: 'pushCpu', label: 'Server CPU per push', unit: 'CPU s', higherIsBetter: false, digits: 2 },
    { key: 'pullCpu', label: 'Server CPU per pull', unit: 'CPU s', higherIsBetter: false, digits: 2 },
    { key: 'cpuPerReq', label: 'Server CPU per manifest GET', unit: 'CPU µs', higherIsBetter: false, digits: 1 },
    { key: 'rss', label: 'Server peak RSS', unit: 'MiB', higherIsBetter: false, digits: 0 },
  ];
}

interface Context {
  config: BenchConfig;
  root: string;
  blob: BlobFile;
  fixture: ImageFixture;
  measurements: Measurements;
  roundRows: string[][];
  notes: Map<ServerName, string[]>;
  warnings: string[];
}

async function startNamed(name: ServerName, dir: string): Promise<RunningServer> {
  return name === 'wharf' ? startWharf(dir) : startDistribution(dir);
}

async function pushImage(client: RegistryClient, fixture: ImageFixture): Promise<void> {
  await client.pushBlobBuffer(REPO, fixture.config.data, fixture.config.digest);
  await client.pushBlobBuffer(REPO, fixture.layer.data, fixture.layer.digest);
  await client.putManifest(REPO, TAG, fixture.manifest.mediaType, fixture.manifest.data);
  const res = await client.getManifest(REPO, TAG, ACCEPT);
  if (res.status !== 200) throw new Error(`GET /v2/${REPO}/manifests/${TAG}: expected 200, got ${res.status} ${res.body.toString().slice(0, 300)}`);
  if (!res.body.equals(fixture.manifest.data)) throw new Error(`GET /v2/${REPO}/manifests/${TAG}: body differs from the pushed manifest`);
  const type = res.headers['content-type'];
  if (type !== fixture.manifest.mediaType) throw new Error(`GET /v2/${REPO}/manifests/${TAG}: Content-Type ${type}, expected ${fixture.manifest.mediaType}`);
}

async function measure(ctx: Context, name: ServerName, round: number): Promise<void> {
  const { config, blob, measurements } = ctx;
  const dir = join(ctx.root, `${name}-round${round}`);
  await mkdir(dir);
  trackDir(dir);
  const server = await startNamed(name, dir);
  ctx.notes.set(name, server.notes);
  const client = new RegistryClient(server.baseUrl);
  try {
    // 1. Push: the storage directory is new, so this is the server's first sight of the blob.
    sync();
    let cpu = server.cpuSeconds();
    const pushMs = await client.pushBlobFile(REPO, blob.path, blob.size, blob.digest);
    const pushCpu = server.cpuSeconds() - cpu;
    const head = await client.request('HEAD', `/v2/${REPO}/blobs/${blob.digest}`);
    if (head.status !== 200 || head.headers['content-length'] !== String(blob.size)) {
      throw new Error(`HEAD after push: status ${head.status}, Content-Length ${head.headers['content-length']} (expected 200, ${blob.size})`);
    }

    // 2. Pull, hashing every received byte.
    sync();
    cpu = server.cpuSeconds();
    const pull = await client.pullBlob(REPO, blob.digest);
    const pullCpu = server.cpuSeconds() - cpu;
    if (pull.bytes !== blob.size || pull.digest !== blob.digest) {
      throw new Error(`pull returned ${pull.bytes} bytes with ${pull.digest}, expected ${blob.size} bytes with ${blob.digest}`);
    }

    // 3. Manifest GET by tag under wrk.
    await pushImage(client, ctx.fixture);
    const wrkOptions = {
      url: `${server.baseUrl}/v2/${REPO}/manifests/${TAG}`,
      threads: config.wrkThreads,
      connections: config.wrkConnections,
      headers: { Accept: ACCEPT },
    };
    if (config.wrkWarmupSeconds > 0) await runWrk({ ...wrkOptions, seconds: config.wrkWarmupSeconds });
    cpu = server.cpuSeconds();
    const wrk = await runWrk({ ...wrkOptions, seconds: config.wrkSeconds });
    const wrkCpu = server.cpuSeconds() - cpu;
    if (wrk.non2xx3xx > 0) throw new Error(`wrk: ${wrk.non2xx3xx} of ${wrk.requests} responses were not 2xx/3xx\n${wrk.raw}`);
    if (wrk.socketErrors > 0) ctx.warnings.push(`round ${round} ${name}: wrk reported socket errors\n${wrk.raw}`);
    const rss = server.peakRssBytes() / (1024 * 1024);

    const pushRate = megabytesPerSecond(blob.size, pushMs);
    const pullRate = megabytesPerSecond(blob.size, pull.ms);
    const cpuPerReq = (wrkCpu / wrk.requests) * 1e6;
    record(measurements, 'push', name, pushRate);
    record(measurements, 'pull', name, pullRate);
    record(measurements, 'rps', name, wrk.requestsPerSec);
    record(measurements, 'p50', name, wrk.latencyP50Ms);
    record(measurements, 'p99', name, wrk.latencyP99Ms);
    record(measurements, 'pushCpu', name, pushCpu);
    record(measurements, 'pullCpu', name, pullCpu);
    record(measurements, 'cpuPerReq', name, cpuPerReq);
    record(measurements, 'rss', name, rss);
    const row = [
      String(round),
      name,
      pushRate.toFixed(1),
      pullRate.toFixed(1),
      wrk.requestsPerSec.toFixed(0),
      wrk.latencyP50Ms.toFixed(2),
      wrk.latencyP99Ms.toFixed(2),
      pushCpu.toFixed(2),
      pullCpu.toFixed(2),
      cpuPerReq.toFixed(1),
      rss.toFixed(0),
    ];
    ctx.roundRows.push(row);
    log(
      `  round ${round} ${name.padEnd(12)} push ${row[2]} MB/s, pull ${row[3]} MB/s, ` +
        `manifest GET ${row[4]} req/s (p50 ${row[5]} ms, p99 ${row[6]} ms)`,
    );
  } catch (err) {
    const tail = server.stderrTail();
    if (err instanceof Error && tail) err.message += `\n--- ${name} stderr (tail) ---\n${tail}`;
    throw err;
  } finally {
    client.close();
    await server.stop();
    await removeDir(dir);
  }
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const config = readConfig();
  checkWrk();
  const distVersion = config.servers.includes('distribution') ? distributionVersion() : 'not run';
  if (config.servers.includes('wharf')) checkWharfBuilt();

  const root = await mkdtemp(join(config.tmpParent ?? os.tmpdir(), 'wharf-bench-'));
  trackDir(root);

  const gitRev = tryCommand('git', ['describe', '--always', '--dirty']) ?? 'unknown';
  log('Wharf registry benchmark: wharf vs CNCF distribution');
  log(`  date          ${new Date().toISOString()}`);
  log(`  machine       ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}`);
  log(`  node          ${process.version}`);
  const wharfVersion = (tryCommand(process.execPath, [WHARF_BIN, '--version']) ?? 'unknown version').replace(/^wharf\s+/, '');
  log(`  wharf         ${config.servers.includes('wharf') ? `${wharfVersion}, git ${gitRev}` : 'not run'}`);
  log(`  distribution  ${distVersion}`);
  log(`  blob          ${config.blobMiB} MiB random data; rounds ${config.rounds}; wrk -t${config.wrkThreads} -c${config.wrkConnections} -d${config.wrkSeconds}s (${config.wrkWarmupSeconds > 0 ? `after a ${config.wrkWarmupSeconds}s discarded warm-up` : 'no warm-up'})`);
  log(`  temp dir      ${root}`);
  const load = os.loadavg()[0]!;
  log(`  load average  ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (load > 1) log(`  ! the machine is already busy (1-min load ${load.toFixed(2)}): other processes compete with the servers, expect noisy results`);

  const started = performance.now();
  const blob = await writeRandomBlob(join(root, 'blob.bin'), config.blobMiB * 1024 * 1024);
  log(`  generated blob ${blob.digest} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  log('');

  const ctx: Context = {
    config,
    root,
    blob,
    fixture: await buildImageFixture(),
    measurements: new Map(),
    roundRows: [],
    notes: new Map(),
    warnings: [],
  };
  for (let round = 1; round <= config.rounds; round++) {
    const order = round % 2 === 1 ? config.servers : [...config.servers].reverse();
    for (const name of order) await measure(ctx, name, round);
  }

  const metrics = metricsFor(config);
  log('');
  log('Per round:');
  log(
    textTable(
      ['round', 'server', 'push MB/s', 'pull MB/s', 'GET req/s', 'p50 ms', 'p99 ms', 'push CPU s', 'pull CPU s', 'CPU µs/GET', 'peak RSS MiB'],
      ctx.roundRows,
      2,
    ),
  );
  log('');
  log(summaryTable(metrics, ctx.measurements));
  log('');
  log('How this was measured:');
  log('  - Each round starts every server on a new, empty storage directory and stops it and deletes the');
  log('    directory afterwards, so every push is the first upload of that blob to that server (nothing to');
  log('    skip or deduplicate). Server order alternates between rounds; values above are medians.');
  log('  - Push = POST /v2/bench/blobs/uploads/ + one PUT ?digest= with the file streamed (Content-Length set),');
  log('    timed together. The same random file is reused every round and is read from the page cache.');
  log('  - Pull = GET /v2/bench/blobs/<digest>, every byte sha256-hashed by the client and checked; it');
  log('    follows the push, so both servers serve from the page cache. `sync` runs before each transfer.');
  log('  - Manifest GET: a small OCI image (config + 1 layer + manifest tagged latest) is pushed and one GET');
  log('    is checked (200, same bytes, Content-Type) before wrk; wrk shares the 2 cores with the server.');
  log('  - Ratio = wharf/distribution for higher-is-better rows and distribution/wharf for lower-is-better');
  log('    rows, so > 1.00x always means wharf is better. MB = 10^6 bytes. CPU = server user+sys time.');
  for (const [name, notes] of ctx.notes) for (const note of notes) log(`  - ${name}: ${note}`);
  for (const warning of ctx.warnings) log(`  ! ${warning}`);
  log('');
  log('Markdown (for the README):');
  log('');
  log(`Measured ${new Date().toISOString().slice(0, 10)} on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}, ${distVersion}; median of ${config.rounds} round(s), \`npm run bench\`.`);
  log('');
  log(markdownTable(metrics, ctx.measurements));
  log('');
  if (config.servers.length === 2) log(goalsMet(metrics, ctx.measurements) ? 'All goals met.' : 'Some goals are NOT met (see status column).');
}

runBenchmark('bench', main);
