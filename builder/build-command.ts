import type { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { BUILD_USAGE, BuildUsageError, parseBuildOptions } from './build-options.js';
import { removeTemporaries } from './build-root.js';
import { build } from './build.js';
import { createProgress } from './progress.js';
import { killAllContainersSync } from './runtime/run-container.js';
import { unmountAllSync } from './snapshot/overlay-mount.js';

/** Where `wharf build` prints, and the environment it reads: this process's, or a build server client's. */
export interface CommandIo {
  readonly stdout: Writable;
  /** The progress display redraws only when isTTY (`--progress auto`). */
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** Stops the running build at once (Ctrl-C): synchronous, so that a signal handler can exit right after it. */
export type StopBuild = (signal: string) => void;

/**
 * `wharf build ARGS`: parse, build, print the image ID; the exit code (0, 1 for a failed build, 2 for
 * bad usage). `onStart` receives the function that stops the build once it has started; whoever
 * calls it exits with 130 afterwards, since the build's steps cannot be unwound one by one.
 */
export async function runBuildCommand(args: string[], io: CommandIo, onStart: (stop: StopBuild) => void): Promise<number> {
  let options;
  try {
    options = parseBuildOptions(args, io.env);
  } catch (error) {
    if (!(error instanceof BuildUsageError)) throw error;
    io.stderr.write(`wharf build: ${error.message} (see 'wharf build --help')\n`);
    return 2;
  }
  if (options === undefined) {
    io.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  const progress = createProgress(options.progress, options.quiet, io.stderr);
  const { root } = options;
  // The cache only ever holds finished steps: stopping leaves no container running, no overlay
  // mounted and no temporary behind.
  onStart((signal) => {
    progress.close();
    killAllContainersSync();
    unmountAllSync();
    removeTemporaries(root, new Set([process.pid]));
    io.stderr.write(`wharf build: interrupted by ${signal}\n`);
  });
  try {
    const result = await build(options, progress);
    progress.close();
    for (const warning of result.warnings) io.stderr.write(`WARNING: ${warning}\n`);
    io.stdout.write(options.quiet ? `${result.imageId}\n` : `writing image ${result.imageId}${result.manifestDigest ? ` (manifest ${result.manifestDigest})` : ''}\n`);
    return 0;
  } catch (error) {
    progress.close();
    // A build failure is the user's Dockerfile, context or registry: one line, no stack trace.
    io.stderr.write(`wharf build: ${(error as Error).message}\n`);
    if (io.env.WHARF_DEBUG) io.stderr.write(`${inspect(error)}\n`);
    return 1;
  }
}
