/** Wharf's own registry server, run from the compiled CLI (dist/bin/wharf.js) like a user would. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ServerExitedError, startServer, type RunningServer } from './server-process.js';

/** dist/bench/wharf.js → dist/bin/wharf.js */
export const WHARF_CLI = fileURLToPath(new URL('../bin/wharf.js', import.meta.url));

export function checkWharfBuilt(): void {
  if (!existsSync(WHARF_CLI)) {
    throw new Error(`${WHARF_CLI} not found: the wharf CLI has not been built (npx tsc -p .), or set BENCH_SERVERS=distribution`);
  }
}

/** The environment without WHARF_* settings, so only the flags given here configure the server. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('WHARF_')));
}

let logLevelSupported: boolean | undefined;

/**
 * Starts `wharf serve` with storage in storageDir/data. Request logs are turned down with
 * `--log-level warn`; if the CLI refuses that option it is started without it (stdout is
 * discarded either way, but the logging work then still counts against wharf).
 */
export async function startWharf(storageDir: string): Promise<RunningServer> {
  const base = [WHARF_CLI, 'serve', '--storage', join(storageDir, 'data')];
  const start = async (withLogLevel: boolean) => {
    const port = await freePort();
    const args = [...base, '--addr', `127.0.0.1:${port}`, ...(withLogLevel ? ['--log-level', 'warn'] : [])];
    return startServer({ name: 'wharf', command: process.execPath, args, port, env: cleanEnv() });
  };
  if (logLevelSupported !== false) {
    try {
      const server = await start(true);
      logLevelSupported = true;
      server.notes.push('run with --log-level warn, stdout discarded');
      return server;
    } catch (err) {
      if (!(err instanceof ServerExitedError && /log.?level/i.test(err.stderr))) throw err;
      logLevelSupported = false;
    }
  }
  const server = await start(false);
  server.notes.push('--log-level not supported by this build: run with default logging, stdout discarded (log formatting still costs wharf CPU)');
  return server;
}
