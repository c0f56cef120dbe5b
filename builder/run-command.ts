// The builder drives mount, umount, mknod, the attr tools and the OCI runtime as child processes: Node
// has no API for mounts, device nodes, extended attributes or containers.
import { spawn } from 'node:child_process';

/** Raised when a command cannot be started or exits with a failure; `stderr` says why. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    /** True when the command is not installed. */
    readonly notFound = false,
  ) {
    super(message);
  }
}

/** Options of runCommand(). */
export interface RunCommandOptions {
  /** Bytes for the command's standard input (none when absent). */
  readonly input?: Buffer | string;
  readonly cwd?: string;
  /** What to install when the command is missing (`apt-get install attr`). */
  readonly installHint?: string;
}

/** Runs `command` and returns its standard output; throws CommandError when it fails. */
export function runCommand(command: string, args: readonly string[], options: RunCommandOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // One locale for all: their output and messages are parsed.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const missing = error.code === 'ENOENT';
      const hint = missing && options.installHint ? ` (${options.installHint})` : '';
      reject(new CommandError(`${command}: ${missing ? 'command not found' : error.message}${hint}`, '', missing));
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // a command that exits early reports through its status
      child.stdin.end(options.input);
    }
    child.on('close', (code, signal) => {
      const errors = Buffer.concat(stderr).toString('utf8').trim();
      if (code === 0) resolve(Buffer.concat(stdout));
      else reject(new CommandError(`${command} ${args.slice(0, 8).join(' ')}${args.length > 8 ? ' …' : ''} failed (${signal ?? `exit ${code}`}): ${errors || 'no output'}`, errors));
    });
  });
}
