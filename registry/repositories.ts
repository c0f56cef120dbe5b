import type { StorageDriver } from './storage/driver.js';
import { listOrEmpty } from './storage/list-or-empty.js';
import { StoragePaths } from './storage/paths.js';

/**
 * Every repository name in storage holding `marker` (manifests, or upload sessions), sorted; for
 * manifests, only repositories with at least one left, as the search index counts them.
 * Children of a folder under /repositories that do not start with `_` are deeper name components.
 * Walks the whole tree: the search index answers the catalog at scale.
 */
export async function listRepositories(driver: StorageDriver, marker: '_manifests' | '_uploads' = '_manifests'): Promise<string[]> {
  const names: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const children = await listOrEmpty(driver, path);
    const name = path.slice(StoragePaths.repositoriesRoot.length + 1);
    const bases = children.map((child) => child.slice(child.lastIndexOf('/') + 1));
    if (bases.includes(marker) && (marker === '_uploads' || (await hasManifests(driver, name)))) names.push(name);
    for (const child of children) {
      if (!child.slice(child.lastIndexOf('/') + 1).startsWith('_')) await walk(child);
    }
  };
  await walk(StoragePaths.repositoriesRoot);
  return names.sort();
}

/** Every manifest digest the repository holds (its revisions), sorted. */
export async function listRevisions(driver: StorageDriver, name: string): Promise<string[]> {
  const digests: string[] = [];
  for (const algorithmFolder of await listOrEmpty(driver, StoragePaths.revisionsRoot(name))) {
    const algorithm = algorithmFolder.slice(algorithmFolder.lastIndexOf('/') + 1);
    for (const hexFolder of await listOrEmpty(driver, algorithmFolder)) digests.push(`${algorithm}:${hexFolder.slice(hexFolder.lastIndexOf('/') + 1)}`);
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
