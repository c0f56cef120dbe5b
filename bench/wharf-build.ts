/** `wharf build` run from the compiled CLI as a user runs it, on its own build root. */
import { readFile } from 'node:fs/promises';
import { cleanEnv } from '../test/support/wharf-process.js';
import { runTimed, type TimedResult } from './timed-command.js';

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
  /** Write V8 CPU profiles (one per thread, gzip workers included) into this directory (`node --cpu-prof`). */
  cpuProfileDir?: string;
}

export async function wharfBuild(context: string, options: WharfBuildOptions): Promise<TimedResult & { imageId: string }> {
  const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : [];
  const output = options.archive ? ['--output', `type=docker,dest=${options.archive}`] : [];
  const network = options.network ? ['--network', options.network] : [];
  const result = await runTimed({
    command: process.execPath,
    args: [...nodeArgs, options.bin, 'build', '--root', options.root, '--progress', 'plain', '--iidfile', options.iidFile, '-t', options.tag, ...network, ...output, context],
    env: cleanEnv(),
  });
  return { ...result, imageId: (await readFile(options.iidFile, 'utf8')).trim() };
}
