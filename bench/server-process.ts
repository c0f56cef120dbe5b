/** Starting a registry server as a child process, waiting until it answers /v2/, and stopping it. */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { stopChild, trackChild } from './cleanup.js';
import { cpuSeconds, peakRssBytes } from './proc-stats.js';

export interface RunningServer {
  name: string;
  baseUrl: string;
  port: number;
  pid: number;
  /** Notes about how this server was run, printed with the results. */
  notes: string[];
  cpuSeconds(): number;
  peakRssBytes(): number;
  stderrTail(): string;
  stop(): Promise<void>;
}

export interface ServerSpec {
  name: string;
  command: string;
  args: string[];
  port: number;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** A currently free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

function probe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ServerExitedError extends Error {
  constructor(readonly spec: ServerSpec, readonly code: number | null, readonly signal: NodeJS.Signals | null, readonly stderr: string) {
    super(`${spec.name} exited before becoming ready (code ${code}, signal ${signal})${stderr ? `:\n${stderr}` : ''}`);
  }
}

/** Spawns the server (stdout discarded, stderr kept in a ring buffer) and resolves once GET /v2/ answers 200 or 401. */
export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const child: ChildProcess = spawn(spec.command, spec.args, { stdio: ['ignore', 'ignore', 'pipe'], env: spec.env ?? process.env });
  trackChild(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-8192);
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  const deadline = Date.now() + (spec.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ServerExitedError(spec, child.exitCode, child.signalCode, stderr.trim());
    }
    const status = await Promise.race([probe(spec.port), spawnError]);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`${spec.name} did not answer GET /v2/ with 200 within ${spec.readyTimeoutMs ?? 30_000} ms (last status ${status ?? 'none'})\n${stderr}`);
    }
    await sleep(50);
  }

  const pid = child.pid!;
  return {
    name: spec.name,
    baseUrl: `http://127.0.0.1:${spec.port}`,
    port: spec.port,
    pid,
    notes: [],
    cpuSeconds: () => cpuSeconds(pid),
    peakRssBytes: () => peakRssBytes(pid),
    stderrTail: () => stderr.trim(),
    stop: () => stopChild(child),
  };
}
