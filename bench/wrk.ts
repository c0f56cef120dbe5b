/** Running wrk against one URL and parsing its report. */
import { existsSync } from 'node:fs';
import { runTimed } from './timed-command.js';

export const WRK_BINARY = process.env.BENCH_WRK_BIN ?? '/usr/bin/wrk';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  latencyAvgMs: number;
  latencyStdevMs: number;
  latencyMaxMs: number;
  latencyP50Ms: number;
  latencyP90Ms: number;
  latencyP99Ms: number;
  non2xx3xx: number;
  socketErrors: number;
  raw: string;
}

export function checkWrk(): void {
  if (!existsSync(WRK_BINARY)) throw new Error(`${WRK_BINARY} not found: install the Debian package wrk`);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "812.34us" / "1.20ms" / "2.01s" → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot parse duration "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export function parseWrkOutput(raw: string): WrkResult {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const match = re.exec(raw);
    if (!match) throw new Error(`wrk: no ${what} in output:\n${raw}`);
    return match;
  };
  const latency = need(/^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m, 'latency line');
  const percentile = (p: number) => parseDuration(need(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm'), `${p}% latency`)[1]!);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  return {
    requestsPerSec: Number(need(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]),
    requests: Number(need(/^\s*(\d+) requests in /m, 'request count')[1]),
    latencyAvgMs: parseDuration(latency[1]!),
    latencyStdevMs: parseDuration(latency[2]!),
    latencyMaxMs: parseDuration(latency[3]!),
    latencyP50Ms: percentile(50),
    latencyP90Ms: percentile(90),
    latencyP99Ms: percentile(99),
    non2xx3xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(raw)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0,
    raw,
  };
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  return parseWrkOutput((await runTimed({ command: WRK_BINARY, args })).stdout);
}
