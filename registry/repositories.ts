import { mapConcurrently } from '../shared/concurrency.js';
import type { Digest } from '../shared/digest.js';
import type { StorageDriver } from './storage/driver.js';
import { listOrEmpty } from './storage/list-or-empty.js';
import { StoragePaths } from './storage/paths.js';

// Folders listed at once: a big registry's walk is a hundred thousand storage round trips.
const LISTS_AT_ONCE = 16;

/**
 * Every repository with at least one manifest, sorted. Walks the whole tree: the search index
 * answers the catalog at scale.
 */
export async function listRepositories(driver: StorageDriver): Promise<string[]> {
  return withManifests(driver, await listRepositoryFolders(driver, '_manifests'));
}

/** The first `limit` (default: all) of these repository folders that hold at least one manifest, in order. */
export async function withManifests(driver: StorageDriver, folders: readonly string[], limit = Infinity): Promise<string[]> {
  const found: string[] = [];
  for (let start = 0; start < folders.length && found.length < limit; start += LISTS_AT_ONCE) {
    const batch = folders.slice(start, start + LISTS_AT_ONCE);
    const held = await mapConcurrently(batch, LISTS_AT_ONCE, (name) => hasManifests(driver, name));
    found.push(...batch.filter((_, i) => held[i]));
  }
  return found.slice(0, limit);
}

/**
 * Every repository folder holding `marker` (manifests, or upload sessions), sorted; a folder under
 * /repositories whose name does not start with `_` is a deeper name component. `signal` stops the walk.
 */
export async function listRepositoryFolders(driver: StorageDriver, marker: '_manifests' | '_uploads', signal?: AbortSignal): Promise<string[]> {
  const names: string[] = [];
  // Level by level, each level's folders listed concurrently.
  let level = [StoragePaths.repositoriesRoot];
  while (level.length > 0) {
    const next: string[] = [];
    await mapConcurrently(level, LISTS_AT_ONCE, async (path) => {
      signal?.throwIfAborted();
      const children = await listOrEmpty(driver, path);
      const bases = children.map((child) => child.slice(child.lastIndexOf('/') + 1));
      if (bases.includes(marker)) names.push(path.slice(StoragePaths.repositoriesRoot.length + 1));
      next.push(...children.filter((_, i) => !bases[i]!.startsWith('_')));
    });
    level = next;
  }
  return names.sort();
}

/** The digests of an `<algorithm>/<hex>` folder tree (a repository's revisions, a subject's referrers), sorted; none when it is absent. */
export async function listDigests(driver: StorageDriver, root: string): Promise<Digest[]> {
  const digests: Digest[] = [];
  for (const algorithmFolder of await listOrEmpty(driver, root)) {
    const algorithm = algorithmFolder.slice(algorithmFolder.lastIndexOf('/') + 1);
    for (const hexFolder of await listOrEmpty(driver, algorithmFolder)) digests.push(`${algorithm}:${hexFolder.slice(hexFolder.lastIndexOf('/') + 1)}` as Digest);
  }
  return digests.sort();
}

// Deleting a repository's last manifest leaves its empty folders behind on a filesystem.
async function hasManifests(driver: StorageDriver, name: string): Promise<boolean> {
  for (const algorithmFolder of await listOrEmpty(driver, StoragePaths.revisionsRoot(name))) {
    if ((await listOrEmpty(driver, algorithmFolder)).length > 0) return true;
  }
  return false;
}
