// Drives a real `wharf serve` process for the server tests: spawn the compiled entry point on a
// free loopback port, wait for GET /v2/, stop it with SIGTERM (or SIGKILL), and talk to it with
// raw node:http / node:net clients. Every wait here is bounded, and every process and temporary
// directory is cleaned up through t.after even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The compiled entry point, resolved from this file (dist/test/server → dist/bin). */
export const WHARF_BIN = fileURLToPath(new URL('../../bin/wharf.js', import.meta.url));

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A `wharf serve` process that answered GET /v2/. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly storage: string;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The complete stdout lines so far. */
  stdoutLines(): string[];
  /** Resolves when stdout has a line containing `text`; rejects after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited (or the timeout passed: then undefined). */
  waitForExit(timeoutMs?: number): Promise<ExitStatus | undefined>;
  /** Whether the process has exited. */
  exited(): boolean;
  /** SIGTERM, then waits for the exit status; SIGKILLs and throws if it does not exit in time. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<ExitStatus>;
}

export interface StartOptions {
  /** The storage directory; a fresh temporary one (removed after the test) when omitted. */
  readonly storage?: string;
  /** The port to listen on and to poll; a free one when omitted. */
  readonly port?: number;
  /** Pass `--addr 127.0.0.1:PORT` (default true); false when the address comes from env or a file. */
  readonly passAddr?: boolean;
  /** Pass `--storage DIR` (default true). */
  readonly passStorage?: boolean;
  /** More `wharf serve` arguments. */
  readonly args?: readonly string[];
  /** Environment added to a copy of process.env with every WHARF_* variable removed. */
  readonly env?: Readonly<Record<string, string>>;
  /** `--log-level`: default `warn`, so that only tests about logging pay for request lines; null passes none. */
  readonly logLevel?: string | null;
}

/** A free TCP port on 127.0.0.1 (free when asked: bind it soon). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A temporary directory removed after the test. */
export async function tempDir(t: TestContext, prefix = 'wharf-server-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The process environment without WHARF_* settings, so the caller's shell cannot change a test. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('WHARF_')) env[key] = value;
  return { ...env, ...extra };
}

/**
 * Starts `wharf serve` and waits until GET /v2/ answers 200. The process is SIGKILLed after the
 * test if it is still running. Retries on a lost race for a free port.
 */
export async function startServer(t: TestContext, options: StartOptions = {}): Promise<ServerProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(t, { ...options, port: options.port ?? (await freePort()) });
    } catch (error) {
      lastError = error;
      if (options.port !== undefined || !/EADDRINUSE|cannot listen/i.test(String(error))) break;
    }
  }
  throw lastError;
}

async function startOnce(t: TestContext, options: StartOptions & { port: number }): Promise<ServerProcess> {
  const storage = options.storage ?? (await tempDir(t));
  const args = [WHARF_BIN, 'serve'];
  if (options.passAddr !== false) args.push('--addr', `127.0.0.1:${options.port}`);
  if (options.passStorage !== false) args.push('--storage', storage);
  if (options.logLevel !== null) args.push('--log-level', options.logLevel ?? 'warn');
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(options.env) });

  let out = '';
  let err = '';
  const outputWaiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const waiter of outputWaiters) waiter();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));

  let status: ExitStatus | undefined;
  const exit = new Promise<ExitStatus>((resolve) => {
    child.on('exit', (code, signal) => resolve((status = { code, signal })));
    child.on('error', (error) => {
      err += `spawn error: ${error.message}\n`;
      resolve((status = { code: -1, signal: null }));
    });
  });
  t.after(async () => {
    if (!status) {
      child.kill('SIGKILL');
      await exit;
    }
  });

  const waitForExit = async (timeoutMs = STOP_TIMEOUT_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    try {
      return await Promise.race([exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const describe = () => `\n--- stdout ---\n${out.slice(-3000)}\n--- stderr ---\n${err.slice(-3000)}`;
  const url = `http://127.0.0.1:${options.port}`;

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (status) throw new Error(`wharf serve exited before answering (code ${status.code}, signal ${status.signal})${describe()}`);
    try {
      const res = await send(url, 'GET', '/v2/', { timeoutMs: 2_000 });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exit;
      throw new Error(`wharf serve did not answer GET ${url}/v2/ within ${READY_TIMEOUT_MS} ms${describe()}`);
    }
    await delay(50);
  }

  const server: ServerProcess = {
    child,
    port: options.port,
    url,
    storage,
    stdout: () => out,
    stderr: () => err,
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
          reject(new Error(`no "${text}" in the server output within ${timeoutMs} ms${describe()}`));
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
      throw new Error(`wharf serve did not exit within ${timeoutMs} ms of SIGTERM${describe()}`);
    },
    async kill() {
      if (!status) child.kill('SIGKILL');
      const result = await waitForExit();
      if (!result) throw new Error('wharf serve did not die of SIGKILL');
      return result;
    },
  };
  return server;
}

/** The result of running `wharf` to completion. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `wharf ARGS` to completion (SIGKILL after `timeoutMs`, reported as signal SIGKILL). */
export function runWharf(args: readonly string[], options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(options.env) });
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

/** An HTTP response read whole. */
export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SendOptions {
  readonly headers?: Readonly<Record<string, string | number>>;
  readonly body?: Buffer | string;
  readonly timeoutMs?: number;
  /** A keep-alive agent to reuse connections; by default each request has its own connection. */
  readonly agent?: Agent;
}

/** One request, on a fresh connection unless `agent` is given (so nothing lingers after a test). */
export function send(baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const headers: Record<string, string | number> = { ...options.headers };
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = body.length;
    const req = httpRequest(new URL(path, baseUrl), { method, headers, agent: options.agent ?? false });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no response within ${options.timeoutMs ?? REQUEST_TIMEOUT_MS} ms`)), options.timeoutMs ?? REQUEST_TIMEOUT_MS);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}

/** The first OCI error code in a response body, or undefined. */
export function errorCode(res: Response): string | undefined {
  try {
    return (JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** `sha256:…` of the bytes. */
export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Bytes that differ per call and per seed (cheap to make, not compressible by accident). */
export function testBytes(length: number, seed: number): Buffer {
  const block = createHash('sha512').update(`wharf-test-${seed}`).digest();
  const data = Buffer.alloc(length);
  for (let offset = 0, counter = 0; offset < length; counter++) {
    const chunk = createHash('sha512').update(block).update(String(counter)).digest();
    offset += chunk.copy(data, offset);
  }
  return data;
}

/** Starts an upload session; returns its Location path. */
export async function startUpload(baseUrl: string, repository: string): Promise<string> {
  const res = await send(baseUrl, 'POST', `/v2/${repository}/blobs/uploads/`);
  if (res.status !== 202) throw new Error(`POST upload: expected 202, got ${res.status} ${res.body}`);
  return locationPath(res);
}

/** The path and query of a Location header. */
export function locationPath(res: Response): string {
  const location = res.headers.location;
  if (typeof location !== 'string') throw new Error(`no Location header in ${JSON.stringify(res.headers)}`);
  const url = new URL(location, 'http://localhost');
  return url.pathname + url.search;
}

/** A path with a query parameter added. */
export function withQuery(path: string, key: string, value: string): string {
  const url = new URL(path, 'http://localhost');
  url.searchParams.append(key, value);
  return url.pathname + url.search;
}

/** Pushes a whole blob in one POST ?digest= and returns its digest; throws unless 201. */
export async function pushBlob(baseUrl: string, repository: string, content: Buffer): Promise<string> {
  const digest = sha256(content);
  const res = await send(baseUrl, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    body: content,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`monolithic push: expected 201, got ${res.status} ${res.body}`);
  return digest;
}

/** The offset an upload session reports. Range 0-0 is read as empty: these tests never upload exactly one byte. */
export async function uploadOffset(baseUrl: string, location: string): Promise<{ res: Response; offset?: number }> {
  const res = await send(baseUrl, 'GET', location);
  if (res.status !== 204) return { res };
  const match = /^0-(\d+)$/.exec(String(res.headers.range));
  if (!match) throw new Error(`GET upload status: bad Range header ${res.headers.range}`);
  const last = Number(match[1]);
  return { res, offset: last === 0 ? 0 : last + 1 };
}

/** A raw TCP connection to the server, for requests node:http will not send (short or long bodies, aborts). */
export async function rawConnect(port: number, timeoutMs = 5_000): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return new RawConnection(socket);
}

/** A socket that records what the server sends back and when it closes. */
export class RawConnection {
  private received = Buffer.alloc(0);
  private readonly closedPromise: Promise<void>;
  private isClosed = false;
  error: Error | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('error', (error) => (this.error = error));
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Writes and resolves once the data is handed to the kernel. */
  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** What the server sent so far, as text. */
  text(): string {
    return this.received.toString('latin1');
  }

  closed(): boolean {
    return this.isClosed;
  }

  /** Resolves true when the server closed the connection within `timeoutMs`, else false. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.closedPromise.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when `predicate(text())` holds; rejects after `timeoutMs`. */
  async waitFor(predicate: (text: string) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.text())) {
      if (Date.now() > deadline) throw new Error(`raw connection: condition not met within ${timeoutMs} ms; received ${JSON.stringify(this.text().slice(0, 500))}`);
      if (this.isClosed) throw new Error(`raw connection closed; received ${JSON.stringify(this.text().slice(0, 500))}`);
      await delay(10);
    }
  }

  /** The status codes of the HTTP responses received so far. */
  statuses(): number[] {
    return [...this.text().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The head of a raw HTTP/1.1 request. */
export function requestHead(method: string, path: string, port: number, headers: Readonly<Record<string, string | number>> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Whether a TCP connection to the port is refused (true) or accepted (false). */
export function connectionRefused(port: number, timeoutMs = 3_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port}: neither accepted nor refused within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve(true);
      else reject(error);
    });
  });
}

/**
 * Blobs in a filesystem storage directory whose bytes do not hash to the digest they are stored
 * under (the layout is /blobs/<algorithm>/<2 hex>/<hex>/data). Empty when storage is sound.
 */
export async function storedBlobMismatches(storage: string): Promise<string[]> {
  const mismatches: string[] = [];
  const list = (dir: string) => readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  for (const algorithm of await list(join(storage, 'blobs'))) {
    for (const prefix of await list(join(storage, 'blobs', algorithm))) {
      for (const hex of await list(join(storage, 'blobs', algorithm, prefix))) {
        const data = await readFile(join(storage, 'blobs', algorithm, prefix, hex, 'data'));
        const actual = createHash(algorithm).update(data).digest('hex');
        if (actual !== hex || !hex.startsWith(prefix)) mismatches.push(`${algorithm}:${hex} holds ${data.length} bytes hashing to ${actual}`);
      }
    }
  }
  return mismatches;
}

/** The upload sessions stored for a repository in a filesystem storage directory. */
export async function storedUploadSessions(storage: string, repository: string): Promise<string[]> {
  try {
    return await readdir(join(storage, 'repositories', repository, '_uploads'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined; rejects after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await delay(100);
  }
}
