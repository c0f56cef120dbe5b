/**
 * A base image both builders pull from a registry, made offline: the tests' static busybox root
 * filesystem imported into the engine (there is no Docker Hub here) and pushed to a `wharf serve`
 * on loopback, which the engine talks to over plain HTTP without configuration.
 */
import { importBusyboxImage } from '../test/e2e/harness.js';
import { docker } from './buildkit.js';
import { onCleanup } from './cleanup.js';
import { startWharf } from './wharf.js';

/**
 * Starts the registry (storage under `storageDir`, stopped on cleanup) and pushes the image as
 * `name:latest`; returns its reference, `127.0.0.1:PORT/name:latest`. The engine's copies are removed on cleanup.
 */
export async function pushBusyboxBase(storageDir: string, name: string): Promise<string> {
  const registry = await startWharf(storageDir);
  const local = `${name}:local`;
  const reference = `127.0.0.1:${registry.port}/${name}:latest`;
  onCleanup(() => docker(['image', 'rm', '--force', reference, local]).then(() => undefined));
  await importBusyboxImage(local);
  await docker(['tag', local, reference]);
  await docker(['push', reference]);
  return reference;
}
