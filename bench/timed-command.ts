/**
 * A command run to completion and timed from spawn to exit, the way a user at a shell would time it;
 * its output is kept for checks, and its CPU time read from this process's waited-for children.
 */
import { spawn } from 'node:child_process';
import { trackChild } from './cleanup.js';
import { waitedChildrenCpuSeconds } from './proc-stats.js';

export interface TimedResult {
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  /** User + system CPU seconds of the process and its descendants. */
  cpuSeconds: number;
  stdout: string;
  stderr: string;
}

export interface TimedCommand {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs the command; rejects (with its output) unless it exits 0. Nothing else may run children meanwhile, or their CPU counts too. */
export function runTimed({ command, args, env, cwd }: TimedCommand): Promise<TimedResult> {
  return new Promise((resolve, reject) => {
    const cpuBefore = waitedChildrenCpuSeconds();
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, cwd });
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - started;
      if (code !== 0) {
        const output = `${stderr}${stdout}`.slice(-6000);
        reject(new Error(`${command} ${args.join(' ')} exited with code ${code} signal ${signal}:\n${output}`));
        return;
      }
      resolve({ ms, cpuSeconds: waitedChildrenCpuSeconds() - cpuBefore, stdout, stderr });
    });
  });
}
