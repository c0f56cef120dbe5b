// Helpers for the end-to-end tests of `wharf build`: run the real CLI on a fixture, run BuildKit
// (the docker engine's, DOCKER_BUILDKIT=1) on the same fixture, and read back what both produced
// (image config and history from `docker save`, the file tree from inside a container).
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCKER, docker, dockerImageExists, importBusyboxImage } from '../e2e/harness.js';
import { tarFiles } from '../support/tar-reading.js';
import { runWharf, type CommandResult } from '../support/wharf-process.js';

/** fixtures/build/, resolved from dist/test/build. */
export const FIXTURES = fileURLToPath(new URL('../../../fixtures/build/', import.meta.url));

/** The fixture directory of one case. */
export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Prefix of every image these tests leave in the docker engine (removed by `removeImages`). */
export const IMAGE_PREFIX = 'wharf-build-test';

/** The base image: static busybox plus /etc/passwd and /etc/group, for `--chown=NAME`. */
export const BASE_IMAGE = `${IMAGE_PREFIX}/base:latest`;

/** The base image's users and groups: names the chown-chmod fixture uses. */
export const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'www:x:33:33:www:/var/www:/bin/sh', 'app:x:1000:1000:app:/home/app:/bin/sh', ''].join('\n');
export const GROUP = ['root:x:0:', 'www:x:33:', 'staff:x:50:app', 'app:x:1000:', ''].join('\n');

/** Makes sure the docker engine has BASE_IMAGE (imported offline, not pulled). */
export async function ensureBaseImage(): Promise<string> {
  if (!(await dockerImageExists(BASE_IMAGE))) await importBusyboxImage(BASE_IMAGE, { 'etc/passwd': PASSWD, 'etc/group': GROUP });
  return BASE_IMAGE;
}

/** Temporary directories made during a suite and removed at its end. */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(prefix = 'wharf-build-e2e-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** A copy of a fixture in a new temporary directory (for tests that change the context). */
  async copyOf(name: string): Promise<string> {
    const dir = join(await this.make(`wharf-build-${name}-`), name);
    await cp(fixture(name), dir, { recursive: true, verbatimSymlinks: true });
    return dir;
  }

  async removeAll(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** Runs `wharf build ARGS` (the compiled CLI, as a user runs it) to completion. */
export function wharfBuild(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CommandResult> {
  return runWharf(['build', ...args], { env, timeoutMs: 120_000 });
}

/** Throws with everything the build printed unless it exited 0. */
export function assertBuilt(result: CommandResult, what: string): CommandResult {
  if (result.code !== 0) {
    throw new Error(`wharf build ${what} failed (code ${result.code}, signal ${result.signal})\n--- stderr ---\n${result.stderr}\n--- stdout ---\n${result.stdout}`);
  }
  return result;
}

/** `--build-arg K=V` for each entry. */
export function buildArgs(args: Readonly<Record<string, string>>): string[] {
  return Object.entries(args).flatMap(([key, value]) => ['--build-arg', `${key}=${value}`]);
}

/**
 * Builds `context` with the engine's BuildKit as `tag`; returns its plain progress output. Without
 * its cache: BuildKit's cache ignores mtimes, so a layer from another checkout would carry that checkout's.
 */
export async function buildkitBuild(context: string, tag: string, args: Readonly<Record<string, string>>, extra: readonly string[] = []): Promise<string> {
  const { stdout, stderr } = await docker(['build', '--no-cache', '--network', 'none', '--progress', 'plain', '-t', tag, ...buildArgs(args), ...extra, context], {
    env: { DOCKER_BUILDKIT: '1' },
  });
  return stdout + stderr;
}

/** `docker load -i FILE`; returns the name (or ID) docker says it loaded. */
export async function dockerLoad(file: string): Promise<string> {
  const { stdout } = await docker(['load', '-i', file]);
  const match = /Loaded image(?: ID)?: (\S+)/.exec(stdout);
  if (!match) throw new Error(`docker load printed no image:\n${stdout}`);
  return match[1]!;
}

/** `docker run --rm --network none IMAGE ARGS`; stdout. */
export async function dockerRun(image: string, args: readonly string[] = [], options: readonly string[] = []): Promise<string> {
  return (await docker(['run', '--rm', '--network', 'none', ...options, image, ...args])).stdout;
}

/** A history entry as the image config has it. */
export interface History {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  author?: string;
}

/** The parts of an image config these tests look at. */
export interface SavedImage {
  config: {
    created?: string;
    author?: string;
    architecture: string;
    os: string;
    config: Record<string, unknown>;
    rootfs: { diff_ids: string[] };
    history?: History[];
  };
}

/** The image config as stored in the engine (`docker save`, whose config blob is the image's own). */
export async function savedImage(image: string): Promise<SavedImage> {
  const bytes = await dockerSaveBytes(image);
  const files = await tarFiles(bytes, (name) => name.endsWith('.json'));
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string }[];
  return { config: JSON.parse(files.get(manifest[0]!.Config)!.toString()) as SavedImage['config'] };
}

/** `docker save IMAGE` as bytes (the harness's run() decodes output as text). */
export async function dockerSaveBytes(image: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`docker save ${image} failed (${code}): ${stderr}`))));
  });
}

/** The container-config fields a Dockerfile sets, as `docker image inspect` would show them (absent = null). */
export const CONFIG_FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Labels', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'] as const;

/** `docker image inspect IMAGE` .Config, restricted to CONFIG_FIELDS. */
export async function inspectConfig(image: string): Promise<Record<string, unknown>> {
  const [inspected] = JSON.parse((await docker(['image', 'inspect', image])).stdout) as { Config: Record<string, unknown> }[];
  return Object.fromEntries(CONFIG_FIELDS.map((field) => [field, normalizeEmpty(inspected!.Config[field])]));
}

/** Docker shows an unset field as null, "" or a missing key depending on the path the image took. */
function normalizeEmpty(value: unknown): unknown {
  if (value === undefined || value === '') return null;
  return value;
}

/** One history entry without its time (times differ between any two builds). */
export interface HistoryLine {
  created_by: string;
  empty_layer: boolean;
  comment: string;
}

/** History as `created_by`, `empty_layer` and `comment`. */
export function historyOf(image: SavedImage): HistoryLine[] {
  return (image.config.history ?? []).map((entry) => ({ created_by: entry.created_by ?? '', empty_layer: entry.empty_layer ?? false, comment: entry.comment ?? '' }));
}

/**
 * wharf's history with each `created_by` replaced by the engine's where the two are the same step
 * worded by different BuildKit versions. The engine's BuildKit (Docker 20.10, BuildKit 0.8) and
 * current BuildKit word four steps differently; wharf may follow either:
 * - `ARG NAME`: 0.8 writes the default (or nothing), current BuildKit the value the ARG took;
 * - `COPY --chown=… --chmod=…`: 0.8 leaves the flags out, current BuildKit writes them (never `--from`);
 * - `EXPOSE`: 0.8 writes this instruction's ports as a Go map, current BuildKit as a list;
 * - `HEALTHCHECK`: 0.8 writes `&{["CMD" …] "30s" …}`, current BuildKit `{Test:[CMD …] Interval:30s …}`.
 * Anything else must be worded exactly as the engine words it.
 */
export function historyAsEngine(wharf: readonly HistoryLine[], engine: readonly HistoryLine[]): HistoryLine[] {
  return wharf.map((entry, i) => {
    const theirs = engine[i];
    if (!theirs || theirs.created_by === entry.created_by) return entry;
    return sameStepAcrossVersions(entry.created_by, theirs.created_by) ? { ...entry, created_by: theirs.created_by } : entry;
  });
}

function sameStepAcrossVersions(ours: string, engine: string): boolean {
  const argNames = (text: string) => text.slice(4).split(' ').map((word) => word.split('=')[0]).join(' ');
  if (ours.startsWith('ARG ') && engine.startsWith('ARG ')) return argNames(ours) === argNames(engine);
  const withoutOwnerFlags = (text: string) => text.replace(/ --(chown|chmod)=\S+/g, '');
  if (/^(COPY|ADD) /.test(ours) && /^(COPY|ADD) /.test(engine)) return withoutOwnerFlags(ours) === withoutOwnerFlags(engine);
  if (ours.startsWith('EXPOSE ') && engine.startsWith('EXPOSE map[')) {
    const enginePorts = [...engine.matchAll(/(\d+\/\w+):\{\}/g)].map((match) => match[1]).sort();
    const list = /^EXPOSE \[([^\]]*)\]$/.exec(ours);
    return list !== null && JSON.stringify(list[1]!.split(' ').sort()) === JSON.stringify(enginePorts);
  }
  if (ours.startsWith('HEALTHCHECK ') && engine.startsWith('HEALTHCHECK &{')) {
    const engineTest = /^HEALTHCHECK &\{\[(.*)\] "/.exec(engine)?.[1];
    const test = engineTest === undefined ? undefined : (JSON.parse(`[${engineTest.replace(/" "/g, '","')}]`) as string[]).join(' ');
    const modern = /^HEALTHCHECK \{Test:\[(.*)\] Interval:\S+ Timeout:\S+ StartPeriod:\S+ StartInterval:\S+ Retries:\d+\}$/.exec(ours);
    return modern !== null && modern[1] === test;
  }
  return false;
}

// Paths every container has that the image does not decide.
const RUNTIME_PATHS = ['./proc', './sys', './dev', './etc/hosts', './etc/hostname', './etc/resolv.conf', './.dockerenv', './etc/mtab'];

const LISTING_SCRIPT = [
  'cd /',
  `/bin/busybox find . -xdev \\( ${RUNTIME_PATHS.map((path) => `-path ${path}`).join(' -o ')} \\) -prune -o -print0 | /bin/busybox xargs -0 /bin/busybox stat -c '%n|%a|%u:%g|%F|%s|%N'`,
  'echo ===',
  `/bin/busybox find . -xdev \\( ${RUNTIME_PATHS.map((path) => `-path ${path}`).join(' -o ')} \\) -prune -o -type f -print0 | /bin/busybox xargs -0 /bin/busybox md5sum`,
].join('\n');

/**
 * Every path of the image's root filesystem (container mounts left out) as
 * `/path mode uid:gid type [size md5 | -> target]`, sorted: what two images must agree on, mtimes aside.
 */
export async function fileListing(image: string): Promise<string[]> {
  const output = await dockerRun(image, ['sh', '-c', LISTING_SCRIPT], ['--user', '0:0', '--entrypoint', '/bin/busybox']);
  const [stats, sums] = output.split('===\n');
  const md5 = new Map<string, string>();
  for (const line of (sums ?? '').split('\n').filter(Boolean)) {
    const [sum, ...name] = line.split('  ');
    md5.set(name.join('  '), sum!);
  }
  const lines: string[] = [];
  for (const line of stats!.split('\n').filter(Boolean)) {
    const [name, mode, owner, type, size, quoted] = line.split('|');
    if (RUNTIME_PATHS.includes(name!)) continue;
    const path = name === '.' ? '/' : name!.slice(1);
    if (type === 'directory') lines.push(`${path} ${mode} ${owner} dir`);
    else if (type === 'symbolic link') lines.push(`${path} ${mode} ${owner} symlink -> ${quoted!.replace(/^.*' -> '/, '').replace(/'$/, '')}`);
    else lines.push(`${path} ${mode} ${owner} ${type === 'regular file' || type === 'regular empty file' ? 'file' : type} ${size} ${md5.get(name!) ?? '?'}`);
  }
  return lines.sort();
}

/** The lines of `listing` under one of `prefixes` (each a directory or file path). */
export function under(listing: readonly string[], ...prefixes: string[]): string[] {
  return listing.filter((line) => {
    const path = line.split(' ')[0]!;
    return prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  });
}

/** `[i/n] NAME` steps of plain progress output and how each ended: CACHED, DONE or ERROR. */
export function stepOutcomes(progress: string): { name: string; outcome: string }[] {
  const names = new Map<string, string>();
  const outcomes: { name: string; outcome: string }[] = [];
  for (const line of progress.split('\n')) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, id, rest] = match;
    if (!names.has(id!)) {
      names.set(id!, rest!);
      continue;
    }
    const outcome = /^(CACHED|DONE|ERROR)\b/.exec(rest!)?.[1];
    if (outcome && /^\[/.test(names.get(id!)!)) outcomes.push({ name: names.get(id!)!, outcome });
  }
  return outcomes;
}

/** A tiny HTTP server for ADD of URLs: `files` by path, with a fixed Last-Modified; 404 otherwise. */
export async function startFileServer(files: Readonly<Record<string, string>>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const body = files[request.url ?? ''];
    if (body === undefined) {
      response.writeHead(404).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'last-modified': 'Wed, 01 Jan 2020 00:00:00 GMT' });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('file server has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `docker rmi -f` of these images, ignoring any that are gone. */
export async function removeImages(names: Iterable<string>): Promise<void> {
  const list = [...names];
  if (list.length > 0) await docker(['rmi', '-f', ...list]).catch(() => {});
}
