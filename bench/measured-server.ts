/**
 * A registry server as the benchmark runs it: spawned and awaited through test/support's server
 * process (stdout discarded), tracked so that every way out of the benchmark stops it, and read
 * for its CPU time and peak memory.
 */
import { spawnServer, type ServerSpec } from '../test/support/server-process.js';
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

/** Spawns the server and resolves once GET /v2/ answers 200 or 401 (rejects with ServerExitedError if it exits first). */
export async function startMeasuredServer(spec: Omit<ServerSpec, 'discardStdout' | 'onOutput'>): Promise<RunningServer> {
  const server = spawnServer({ ...spec, discardStdout: true });
  trackChild(server.child);
  await server.ready(30_000);
  const pid = server.child.pid!;
  return {
    name: spec.name,
    baseUrl: server.url,
    port: server.port,
    pid,
    notes: [],
    cpuSeconds: () => cpuSeconds(pid),
    peakRssBytes: () => peakRssBytes(pid),
    stderrTail: () => server.stderr().slice(-8192).trim(),
    stop: () => stopChild(server.child),
  };
}
