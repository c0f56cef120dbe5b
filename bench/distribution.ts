/** CNCF distribution (Debian's docker-registry 2.8) with a generated filesystem configuration. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onFreePort } from '../test/support/free-port.js';
import { startMeasuredServer, type RunningServer } from './measured-server.js';

export const DISTRIBUTION_BINARY = process.env.BENCH_DISTRIBUTION_BIN ?? '/usr/bin/docker-registry';

export function distributionVersion(): string {
  if (!existsSync(DISTRIBUTION_BINARY)) {
    throw new Error(`${DISTRIBUTION_BINARY} not found: install the Debian package docker-registry (apt-get install docker-registry)`);
  }
  return execFileSync(DISTRIBUTION_BINARY, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0]!;
}

/**
 * Mirrors Debian's default /etc/docker/registry/config.yml (filesystem storage, in-memory blob
 * descriptor cache, delete enabled) without auth or the storage health check, and with logging
 * reduced to errors and the access log off so neither server pays for per-request logs.
 */
function configYaml(rootDirectory: string, port: number): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(rootDirectory)}`,
    '  cache:',
    '    blobdescriptor: inmemory',
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** Starts distribution with storage in storageDir/data and its config file in storageDir. */
export async function startDistribution(storageDir: string): Promise<RunningServer> {
  const configPath = join(storageDir, 'config.yml');
  const server = await onFreePort(async (port) => {
    await writeFile(configPath, configYaml(join(storageDir, 'data'), port));
    return startMeasuredServer({ name: 'distribution', command: DISTRIBUTION_BINARY, args: ['serve', configPath], port });
  });
  server.notes.push('config: filesystem storage, blobdescriptor cache inmemory, delete enabled, log level error, access log disabled');
  return server;
}
