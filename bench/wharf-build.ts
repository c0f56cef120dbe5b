/** `wharf build` run from the compiled CLI as a user runs it, on its own build root and build server. */
import { readFile } from 'node:fs/promises';
import { cleanEnv, runningBuildServer } from '../test/support/wharf-process.js';
import { cpuSeconds } from './proc-stats.js';
import { runTimed, type TimedResult } from './timed-command.js';

/** Longer than a round's BuildKit builds and exports: the server waits for wharf's next build as buildkitd does. */
const SERVER_IDLE_SECONDS = 600;

export interface WharfBuildOptions {
  /** The CLI entry point (a snapshotWharf() copy). */
  bin: string;
  /** The build root (`--root`): cache and content store; a new empty directory makes a cold build. */
  root: string;
  tag: string;
  /** Where `--iidfile` writes the image ID. */
  iidFile: string;
  /** Write a `docker load` archive here (`--output type=docker,dest=…`); none when undefined. */
  archive?: string;
  /** `--network` of RUN steps; wharf's default (host) when undefined. */
  network?: 'host' | 'none';
  /** WHARF_BUILD_SERVER_DIR: the build server's socket and pid file, the benchmark's own. */
  serverDir: string;
  /** Added to the client's environment (which is this process's without WHARF_* settings). */
  env?: Readonly<Record<string, string>>;
  /**
   * Write V8 CPU profiles (one per thread, gzip workers included) into this directory (`node --cpu-prof`);
   * the build then runs in the client's process, as it has no build server.
   */
  cpuProfileDir?: string;
}

/** A build's wall time and CPU, the build server's included. */
export interface WharfBuildResult extends TimedResult {
  imageId: string;
}

export async function wharfBuild(context: string, options: WharfBuildOptions): Promise<WharfBuildResult> {
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const output = options.archive ? ['--output', `type=docker,dest=${options.archive}`] : [];
  const network = options.network ? ['--network', options.network] : [];
  const serverBefore = runningBuildServer(options.serverDir);
  const serverCpuBefore = serverBefore === undefined ? 0 : cpuSeconds(serverBefore, true);
  const result = await runTimed({
    command: process.execPath,
    args: [...nodeArgs, options.bin, 'build', '--root', options.root, '--progress', 'plain', '--iidfile', options.iidFile, '-t', options.tag, ...network, ...output, context],
    env: cleanEnv({ WHARF_BUILD_SERVER_DIR: options.serverDir, WHARF_BUILD_SERVER_IDLE: options.cpuProfileDir ? '0' : String(SERVER_IDLE_SECONDS), ...options.env }),
  });
  // A server the build started (the first) counts from its start; RUN steps are its waited children.
  const server = runningBuildServer(options.serverDir);
  const serverCpu = server === undefined ? 0 : cpuSeconds(server, true) - serverCpuBefore;
  return { ...result, cpuSeconds: result.cpuSeconds + serverCpu, imageId: (await readFile(options.iidFile, 'utf8')).trim() };
}
