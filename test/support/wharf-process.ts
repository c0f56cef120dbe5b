// The compiled `wharf` CLI run as a user runs it: `wharf serve` on a free loopback port for the
// tests that talk to a real server (test/e2e, test/server), and one-shot commands run to completion.
// Neither the caller's WHARF_* variables nor a stale build can change what a test runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { access, copyFile, cp, mkdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../../builder/build-root.js';
import { freePort, onFreePort } from './free-port.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import { tempDir } from './temp-dir.js';

/** The compiled entry point, resolved from this file (dist/test/support → dist/bin). */
export const WHARF_BIN = fileURLToPath(new URL('../../bin/wharf.js', import.meta.url));

/**
 * Copies the compiled CLI (dist/ without tests and source maps, package.json, node_modules linked)
 * into `dir` and returns its entry point: another installation of the same build (for the benchmarks:
 * a rebuild of dist/ while one runs, tsc in another shell, cannot change what is measured halfway through).
 */
export async function snapshotWharf(dir: string): Promise<string> {
  const dist = dirname(dirname(WHARF_BIN));
  const project = dirname(dist);
  await mkdir(dir, { recursive: true });
  await cp(dist, join(dir, 'dist'), { recursive: true, filter: (source) => !source.endsWith('.map') && source !== join(dist, 'test') });
  await copyFile(join(project, 'package.json'), join(dir, 'package.json'));
  await symlink(join(project, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'dist', 'bin', 'wharf.js');
}

/** The pid of the build server whose pid file is in `serverDir` (its WHARF_BUILD_SERVER_DIR), if one runs. */
export function runningBuildServer(serverDir: string): number | undefined {
  try {
    const pidFile = readdirSync(serverDir).find((name) => name.endsWith('.pid'));
    const pid = pidFile === undefined ? NaN : Number(readFileSync(join(serverDir, pidFile), 'utf8').trim());
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** This process's environment without WHARF_* settings (a build server idle time of 30 s instead), plus `extra`. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('WHARF_')) env[key] = value;
  // Builds go to a build server as a user's do; the one a test run starts does not outlive it by long.
  return { ...env, WHARF_BUILD_SERVER_IDLE: '30', ...extra };
}

interface ServeOptions {
  /** Listen on (and poll) this port; a free one when omitted, with another try if it is taken meanwhile. */
  readonly port?: number;
  /** Pass `--addr 127.0.0.1:PORT` (default true); false when the address comes from --config or WHARF_ADDR. */
  readonly passAddr?: boolean;
  /** Pass `--storage DIR` (default true); false when the storage comes from --config or WHARF_STORAGE. */
  readonly passStorage?: boolean;
  /** `--log-level`: default `warn`, so that only tests about logging pay for request lines; null passes none (the server's own default). */
  readonly logLevel?: string | null;
  /** More `wharf serve` arguments. */
  readonly args?: readonly string[];
  /** Added to the environment, which otherwise has no WHARF_* variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Sees all output as it arrives (test/e2e copies it to WHARF_E2E_LOG). */
  readonly onOutput?: (text: string) => void;
  /** The server is given --tls-cert/--tls-key in `args`: its URL is https:// and readiness is checked with this CA. */
  readonly tlsCa?: Buffer;
}

/**
 * How to run `wharf serve`, and who cleans up: a test `t` (the process is SIGKILLed after it if still
 * running, and a temporary storage made for it removed), or, without one, the caller, who brings
 * the storage directory and stops the process.
 */
export type WharfOptions = ServeOptions &
  (
    | {
        readonly t: TestContext;
        /** The storage directory (e.g. a stopped server's, to restart on it); a fresh temporary one when omitted. */
        readonly storage?: string;
      }
    | { readonly t?: undefined; readonly storage: string }
  );

/** A `wharf serve` process that answered GET /v2/. */
export interface WharfProcess extends ServerProcess {
  readonly storage: string;
}

/** Starts `wharf serve` and waits until GET /v2/ answers. */
export async function startWharf(options: WharfOptions): Promise<WharfProcess> {
  try {
    await access(WHARF_BIN);
  } catch {
    throw new Error(`${WHARF_BIN} does not exist: run \`npx tsc -p .\` first`);
  }
  const storage = options.t === undefined ? options.storage : (options.storage ?? (await tempDir(options.t, 'wharf-storage-')));
  const start = async (port: number): Promise<WharfProcess> => {
    const args = [WHARF_BIN, 'serve'];
    if (options.passAddr !== false) args.push('--addr', `127.0.0.1:${port}`);
    if (options.passStorage !== false) args.push('--storage', storage);
    if (options.logLevel !== null) args.push('--log-level', options.logLevel ?? 'warn');
    args.push(...(options.args ?? []));
    const server = spawnServer({ name: 'wharf serve', command: process.execPath, args, port, env: cleanEnv(options.env), onOutput: options.onOutput, tlsCa: options.tlsCa });
    options.t?.after(async () => {
      if (!server.exited()) await server.kill();
    });
    await server.ready();
    return { ...server, storage };
  };
  return options.port === undefined ? onFreePort(start) : start(options.port);
}

/** The result of running `wharf` to completion. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `wharf ARGS` (of `bin`, by default this build's; in `cwd`, by default this process's) to completion (SIGKILL after `timeoutMs`, reported as signal SIGKILL). */
export function runWharf(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number; bin?: string; cwd?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [options.bin ?? WHARF_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(options.env), cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, signal: null, stdout, stderr: stderr + error.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Asserts that `wharf serve ARGS` (on a free loopback port, memory storage) refuses to start: exit
 * code 2 and one line on stderr matching the case's pattern.
 */
export async function assertServeRefuses(cases: readonly (readonly [args: readonly string[], line: RegExp])[]): Promise<void> {
  const port = await freePort();
  for (const [args, expected] of cases) {
    const result = await runWharf(['serve', '--addr', `127.0.0.1:${port}`, '--storage', 'memory://', ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: exit code (stderr ${result.stderr})`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line: ${result.stderr}`);
    assert.match(lines[0]!, expected);
  }
}
