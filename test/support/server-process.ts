// A registry server run as a child process: `wharf serve`, or CNCF distribution as the reference.
// Spawn it, wait until GET /v2/ answers, read what it printed, stop it with SIGTERM or SIGKILL and
// see how it exited. Every wait is bounded. Shared by test/e2e, test/server (through
// wharf-process.ts) and bench/; it knows nothing of node:test, so the benchmark can use it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
/** How much of each output stream is kept (its tail), so that a chatty server cannot exhaust memory. */
const OUTPUT_LIMIT = 8 * 1024 * 1024;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What to run. */
export interface ServerSpec {
  /** Names the server in error messages: `wharf serve`, `distribution`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The whole environment of the process; this process's when omitted. */
  readonly env?: NodeJS.ProcessEnv;
  /** The port it listens on, on `address`. */
  readonly port: number;
  /** The IP address it listens on; default 127.0.0.1. */
  readonly address?: string;
  /** Do not read stdout (the benchmark: reading a request log would take CPU from the measurement). */
  readonly discardStdout?: boolean;
  /** Sees every piece of output as it arrives (the e2e tests copy it to a log file). */
  readonly onOutput?: (text: string) => void;
  /** The server speaks HTTPS with a certificate this CA (PEM) verifies: `url` is https://, and readiness is probed with it. */
  readonly tlsCa?: Buffer;
  /** Presented by the readiness probe to a server that requires client certificates. */
  readonly clientCertificate?: { readonly cert: Buffer; readonly key: Buffer };
}

/** A spawned server; `ready()` tells when it answers. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `127.0.0.1:PORT` (or the spec's address), the form image references use. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`, or `https://` for a server with `tlsCa` */
  readonly url: string;
  /**
   * Resolves once GET /v2/ answers 200 (or 401, with auth on). Rejects with ServerExitedError if
   * the process exits first; SIGKILLs it and rejects if it does not answer within `timeoutMs`.
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Everything written to stdout so far (empty with discardStdout). */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** stdout and stderr interleaved in arrival order. */
  output(): string;
  /** The complete stdout lines so far. */
  stdoutLines(): string[];
  /** Resolves when stdout contains `text`; rejects after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit status once the process has exited and closed its output, or undefined after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<ExitStatus | undefined>;
  /** Whether the process has exited. */
  exited(): boolean;
  /** SIGTERM, then the exit status; SIGKILLs and throws if the process does not exit within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL, then the exit status. */
  kill(): Promise<ExitStatus>;
}

/** The server exited before it answered GET /v2/; `output` says why (a port in use, a refused option…). */
export class ServerExitedError extends Error {
  constructor(readonly server: string, readonly status: ExitStatus, readonly output: string) {
    super(`${server} exited before answering GET /v2/ (code ${status.code}, signal ${status.signal})${tailOf(output)}`);
  }
}

function tailOf(output: string): string {
  return output === '' ? ' with no output' : `; output (tail):\n${output.slice(-6000)}`;
}

/** The status of GET /v2/ on a fresh connection (verified against the spec's CA for HTTPS), or undefined when nothing answers within 2 s. */
function probe(url: string, { tlsCa: ca, clientCertificate }: ServerSpec): Promise<number | undefined> {
  return new Promise((resolve) => {
    const answered = (res: IncomingMessage) => {
      res.resume();
      resolve(res.statusCode);
    };
    const options = { agent: false, timeout: 2_000 };
    const req = ca === undefined ? get(`${url}/v2/`, options, answered) : httpsGet(`${url}/v2/`, { ...options, ca, ...clientCertificate }, answered);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** Spawns the server; await `ready()` before talking to it. */
export function spawnServer(spec: ServerSpec): ServerProcess {
  const child = spawn(spec.command, [...spec.args], {
    stdio: ['ignore', spec.discardStdout ? 'ignore' : 'pipe', 'pipe'],
    env: spec.env ?? process.env,
  });
  const host = `${spec.address ?? '127.0.0.1'}:${spec.port}`;
  const url = `${spec.tlsCa === undefined ? 'http' : 'https'}://${host}`;

  let out = '';
  let err = '';
  let all = '';
  const keep = (text: string) => (text.length > OUTPUT_LIMIT ? text.slice(-OUTPUT_LIMIT) : text);
  const outputWaiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    out = keep(out + text);
    all = keep(all + text);
    spec.onOutput?.(text);
    for (const waiter of outputWaiters) waiter();
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    err = keep(err + text);
    all = keep(all + text);
    spec.onOutput?.(text);
  });

  // 'close' rather than 'exit': by then all output has been read, so a test can check it after stop().
  let status: ExitStatus | undefined;
  const exit = new Promise<ExitStatus>((resolve) => {
    child.on('close', (code, signal) => resolve((status ??= { code, signal })));
    child.on('error', (error) => {
      err += `spawn error: ${error.message}\n`;
      all += `spawn error: ${error.message}\n`;
      resolve((status ??= { code: -1, signal: null }));
    });
  });

  const describe = () => tailOf(all);
  const waitForExit = async (timeoutMs = STOP_TIMEOUT_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    child,
    port: spec.port,
    host,
    url,
    async ready(timeoutMs = READY_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (status) throw new ServerExitedError(spec.name, status, all);
        const answer = await probe(url, spec);
        if (answer === 200 || answer === 401) return;
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          await exit;
          throw new Error(`${spec.name} did not answer GET ${url}/v2/ within ${timeoutMs} ms (last status ${answer ?? 'none'})${describe()}`);
        }
        await delay(50);
      }
    },
    stdout: () => out,
    stderr: () => err,
    output: () => all,
    stdoutLines: () => out.split('\n').slice(0, -1),
    waitForOutput: (text, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!out.includes(text)) return;
          outputWaiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          outputWaiters.delete(check);
          reject(new Error(`no "${text}" in the output of ${spec.name} within ${timeoutMs} ms${describe()}`));
        }, timeoutMs);
        outputWaiters.add(check);
        check();
      }),
    waitForExit,
    exited: () => status !== undefined,
    async stop(timeoutMs = STOP_TIMEOUT_MS) {
      if (!status) child.kill('SIGTERM');
      const result = await waitForExit(timeoutMs);
      if (result) return result;
      child.kill('SIGKILL');
      await exit;
      throw new Error(`${spec.name} did not exit within ${timeoutMs} ms of SIGTERM${describe()}`);
    },
    async kill() {
      if (!status) child.kill('SIGKILL');
      const result = await waitForExit();
      if (!result) throw new Error(`${spec.name} did not die of SIGKILL`);
      return result;
    },
  };
}
