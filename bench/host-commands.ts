import { execFileSync } from 'node:child_process';

/** Prints one line of the benchmark's report. */
export function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** Flushes dirty pages so writeback from earlier work does not land inside the next timed step. */
export function sync(): void {
  execFileSync('sync');
}

/** A command's trimmed stdout, or undefined when it fails or is missing (for version lines in the report header). */
export function tryCommand(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
