/**
 * BuildKit as the Docker engine runs it (`DOCKER_BUILDKIT=1 docker build`), with bookkeeping of the
 * images and build-cache records the benchmark creates, so that a cold build can start from none of
 * them and the run leaves none behind, without `docker builder prune -a`, which would also empty
 * the cache of everyone else using this engine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sync } from './host-commands.js';
import { cpuSeconds } from './proc-stats.js';
import { runTimed, type TimedResult } from './timed-command.js';

const execFileAsync = promisify(execFile);

export const DOCKER_BINARY = process.env.BENCH_DOCKER_BIN ?? '/usr/bin/docker';

/** Runs the engine's client; its trimmed stdout. */
export async function docker(args: readonly string[]): Promise<string> {
  const { stdout } = await execFileAsync(DOCKER_BINARY, [...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** "client 20.10.24+dfsg1, engine 20.10.24+dfsg1"; throws when the engine does not answer. */
export async function dockerVersions(): Promise<string> {
  if (!existsSync(DOCKER_BINARY)) throw new Error(`${DOCKER_BINARY} not found: install docker.io (or set BENCH_DOCKER_BIN)`);
  try {
    const [client, engine] = (await docker(['version', '--format', '{{.Client.Version}} {{.Server.Version}}'])).split(' ');
    return `docker client ${client}, engine ${engine} (its built-in BuildKit)`;
  } catch (err) {
    throw new Error(`the Docker engine does not answer (${(err as Error).message.split('\n')[0]}): start dockerd`);
  }
}

let enginePid: number | undefined | null;

/**
 * CPU seconds dockerd has used so far (all its clients' work, not only ours), or NaN if it cannot be
 * found. Its waited-for children count: BuildKit runs each RUN as `runc run`, a child of dockerd.
 */
function engineCpuSeconds(): number {
  if (enginePid === undefined) {
    try {
      const pids = execFileSync('pidof', ['dockerd'], { encoding: 'utf8' }).trim().split(/\s+/);
      enginePid = pids.length === 1 ? Number(pids[0]) : null;
    } catch {
      enginePid = null;
    }
  }
  return enginePid === null ? Number.NaN : cpuSeconds(enginePid, true);
}

export interface BuildKitRun extends TimedResult {
  imageId: string;
  /** dockerd's CPU seconds during the build (another client's work at the same time would count too). */
  engineCpuSeconds: number;
}

interface CacheRecord {
  id: string;
  parent: string;
  type: string;
  description: string;
}

async function cacheRecords(): Promise<CacheRecord[]> {
  const format = '{{range .BuildCache}}{{json .}}\n{{end}}';
  const text = await docker(['system', 'df', '--verbose', '--format', format]);
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as { ID: string; Parent: string; CacheType: string; Description: string };
      return { id: raw.ID, parent: raw.Parent ?? '', type: raw.CacheType, description: raw.Description };
    });
}

/** A base image's layers as BuildKit took them: from the engine's image store, or pulled from a registry. */
function isBaseImage(record: CacheRecord): boolean {
  return record.description.startsWith('from local') || record.description.startsWith('pulled from');
}

/** The result of a COPY/ADD (a file operation) or of a RUN (the root mount of an exec). */
function isStepResult(record: CacheRecord): boolean {
  return record.description === 'fileop target' || record.description.startsWith('mount / from exec ');
}

/** The engine's BuildKit building one context under one tag; every build goes through build(). */
export class BuildKitBuilder {
  /** Cache records our builds created: pruned by reset() and cleanup(). */
  private readonly ownRecords = new Set<string>();
  private readonly ownImages = new Set<string>();

  constructor(
    readonly tag: string,
    private readonly iidFile: string,
  ) {}

  /**
   * One `docker build` (context sent by the client session, result exported into the engine's
   * image store under the tag); `noCache` adds `--no-cache`. The cache records it created are
   * remembered as ours: new records that are local sources (the context and Dockerfile it sent),
   * base images it took from the engine or a registry, or build steps (COPY, RUN) that start from
   * scratch, from a base image or from one of ours. Another client's build running at the same
   * moment could be taken for ours, and would lose its cache at the next reset.
   */
  async build(context: string, { noCache = false }: { noCache?: boolean } = {}): Promise<BuildKitRun> {
    const before = new Set((await cacheRecords()).map((record) => record.id));
    const engineBefore = engineCpuSeconds();
    const result = await runTimed({
      command: DOCKER_BINARY,
      args: ['build', '--network', 'none', '--progress', 'plain', ...(noCache ? ['--no-cache'] : []), '--iidfile', this.iidFile, '-t', this.tag, context],
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
    });
    const engineCpu = engineCpuSeconds() - engineBefore;
    const records = await cacheRecords();
    const baseImages = new Set(records.filter(isBaseImage).map((record) => record.id));
    const created = records.filter((record) => !before.has(record.id));
    let grew = true;
    while (grew) {
      grew = false;
      for (const record of created) {
        if (this.ownRecords.has(record.id)) continue;
        const onOurs = record.parent === '' || baseImages.has(record.parent) || this.ownRecords.has(record.parent);
        if (record.type === 'source.local' || isBaseImage(record) || (isStepResult(record) && onOurs)) {
          this.ownRecords.add(record.id);
          grew = true;
        }
      }
    }
    const imageId = (await readFile(this.iidFile, 'utf8')).trim();
    this.ownImages.add(imageId);
    return { ...result, imageId, engineCpuSeconds: engineCpu };
  }

  /**
   * Seconds of `docker save` of the tag into a file in `dir` (removed afterwards), after a sync: the
   * engine's way to a `docker load`-able file.
   */
  async saveSeconds(dir: string): Promise<number> {
    const dest = join(dir, 'saved.tar');
    sync();
    try {
      return (await runTimed({ command: DOCKER_BINARY, args: ['save', '-o', dest, this.tag] })).ms / 1000;
    } finally {
      await rm(dest, { force: true });
    }
  }

  /**
   * Back to a cold engine for this context: our images removed (so their layers leave the image
   * store) and our cache records pruned (the context sent before, and every step result).
   */
  async reset(): Promise<void> {
    for (const image of this.ownImages) {
      await docker(['image', 'rm', '--force', image]).catch(() => undefined);
      this.ownImages.delete(image);
    }
    if (this.ownRecords.size === 0) return;
    const ids = [...this.ownRecords];
    await docker(['builder', 'prune', '--all', '--force', '--filter', `id=^(${ids.join('|')})$`]);
    const left = new Set((await cacheRecords()).map((record) => record.id));
    for (const id of ids) if (!left.has(id)) this.ownRecords.delete(id);
    if (this.ownRecords.size > 0) throw new Error(`docker builder prune left ${this.ownRecords.size} of the benchmark's build cache records: ${[...this.ownRecords].join(' ')}`);
  }
}

/** What an image in the engine holds, for comparing builders' outputs. */
export interface ImageSummary {
  layers: number;
  /** The engine's image size: bytes of file content in all layers. */
  size: number;
}

export async function imageSummary(reference: string): Promise<ImageSummary> {
  const [layers, size] = (await docker(['image', 'inspect', '--format', '{{len .RootFS.Layers}} {{.Size}}', reference])).split(' ');
  return { layers: Number(layers), size: Number(size) };
}

/** Loads a docker archive into the engine, summarises the image it names, and removes that image again. */
export async function loadedArchiveSummary(archive: string): Promise<ImageSummary> {
  const output = await docker(['load', '--input', archive]);
  const match = /Loaded image(?: ID)?: (\S+)/.exec(output);
  if (!match) throw new Error(`docker load printed no image name:\n${output}`);
  try {
    return await imageSummary(match[1]!);
  } finally {
    await docker(['image', 'rm', '--force', match[1]!]).catch(() => undefined);
  }
}
