import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { createApp } from './app.js';
import { loadAuthentication } from './auth/authentication.js';
import { ConfigError, type ServeConfig } from './config.js';
import type { StorageDriver } from './storage/driver.js';
import { listOrEmpty } from './storage/list-or-empty.js';
import { openStorage } from './storage/open-storage.js';
import { readTlsCredentials } from './tls-credentials.js';

// setTimeout turns a longer delay into 1 ms: a 30d setting must mean "very long", not "now".
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs `wharf serve` until SIGTERM or SIGINT, then drains in-flight requests and resolves. */
export async function serve(config: ServeConfig): Promise<void> {
  // Read before the storage is opened: a wrong TLS file is the quickest mistake to report.
  const tls = config.tls && readTlsCredentials(config.tls);
  const auth = loadAuthentication(config.auth);
  const storage = await openStorage(config.storage);
  await checkReachable(storage);
  const app = await createApp({
    storage,
    searchIndex: config.searchIndex,
    logger: { level: config.logLevel },
    tls,
    headerTimeoutMs: config.headerTimeoutMs,
    idleTimeoutMs: Math.min(config.idleTimeoutMs, MAX_TIMER_MS),
    auth,
  });
  await app.listen({ host: config.host, port: config.port });
  app.log.info({ storage: storage.name, searchIndex: config.searchIndex, tls: tls !== undefined, auth: config.auth.mode }, 'wharf registry ready');
  if (!tls && !isLoopback(config.host)) {
    const host = isUnspecified(config.host) ? hostname() : config.host;
    app.log.warn(
      `insecure-registry mode: serving plain HTTP on ${config.host}:${config.port}; Docker clients on other hosts must list "${host}:${config.port}" in "insecure-registries" of /etc/docker/daemon.json (or serve TLS with --tls-cert and --tls-key)`,
    );
  }

  const purge = async () => {
    try {
      const purged = await app.registry.purgeUploads(config.uploadPurgeAgeMs);
      if (purged > 0) app.log.info({ purged }, 'purged stale upload sessions');
    } catch (error) {
      app.log.error({ err: error }, 'purging upload sessions failed');
    }
  };
  // The next purge is scheduled when one ends, so a slow purge never overlaps the next.
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const purgeAndReschedule = async () => {
    await purge();
    if (!stopping) timer = setTimeout(purgeAndReschedule, Math.min(config.uploadPurgeIntervalMs, MAX_TIMER_MS)).unref();
  };
  void purgeAndReschedule();

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.log.info({ signal }, 'shutting down: draining in-flight requests');
      stopping = true;
      clearTimeout(timer);
      const deadline = setTimeout(() => {
        app.log.warn('shutdown timeout reached: closing remaining connections');
        app.server.closeAllConnections();
      }, Math.min(config.shutdownTimeoutMs, MAX_TIMER_MS)).unref();
      app.close().then(() => {
        clearTimeout(deadline);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * Lists the storage's root once, so that a bucket that does not exist, or credentials that do not
 * open it, stop `wharf serve` at start with one line rather than fail every request.
 */
async function checkReachable(storage: StorageDriver): Promise<void> {
  try {
    // An empty or not yet created storage is fine: the first write makes it.
    await listOrEmpty(storage, '/');
  } catch (error) {
    throw new ConfigError(`--storage: cannot use ${storage.name}: ${(error as Error).message}`);
  }
}

/** The wildcard addresses, which listen on every interface. */
function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
