/** Wharf's own registry server, run from the compiled CLI (dist/bin/wharf.js) like a user would. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { onFreePort } from '../test/support/free-port.js';
import { ServerExitedError } from '../test/support/server-process.js';
import { cleanEnv, WHARF_BIN } from '../test/support/wharf-process.js';
import { startMeasuredServer, type RunningServer } from './measured-server.js';

/** Throws unless the compiled CLI exists; `otherwise` says how to run the benchmark without wharf. */
export function checkWharfBuilt(otherwise = 'set BENCH_SERVERS=distribution'): void {
  if (!existsSync(WHARF_BIN)) {
    throw new Error(`${WHARF_BIN} not found: the wharf CLI has not been built (npx tsc -p .), or ${otherwise}`);
  }
}

let logLevelSupported: boolean | undefined;

/**
 * Starts `wharf serve` with storage in storageDir/data (or at `storage`, e.g. an s3:// URL, with
 * `env` for its credentials), configured by these flags alone (no WHARF_* variables). Request logs
 * are turned down with `--log-level warn`; if the CLI refuses that option it is started without it
 * (stdout is discarded either way, but the logging work then still counts against wharf).
 */
export async function startWharf(storageDir: string, options: { storage?: string; env?: Readonly<Record<string, string>> } = {}): Promise<RunningServer> {
  const storage = options.storage ?? join(storageDir, 'data');
  const start = (withLogLevel: boolean) =>
    onFreePort((port) => {
      const args = [WHARF_BIN, 'serve', '--storage', storage, '--addr', `127.0.0.1:${port}`, ...(withLogLevel ? ['--log-level', 'warn'] : [])];
      return startMeasuredServer({ name: 'wharf', command: process.execPath, args, port, env: cleanEnv(options.env) });
    });
  if (logLevelSupported !== false) {
    try {
      const server = await start(true);
      logLevelSupported = true;
      server.notes.push('run with --log-level warn, stdout discarded');
      return server;
    } catch (err) {
      if (!(err instanceof ServerExitedError && /log.?level/i.test(err.output))) throw err;
      logLevelSupported = false;
    }
  }
  const server = await start(false);
  server.notes.push('--log-level not supported by this build: run with default logging, stdout discarded (log formatting still costs wharf CPU)');
  return server;
}
