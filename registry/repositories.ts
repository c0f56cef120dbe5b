import type { StorageDriver } from './storage/driver.js';
import { listOrEmpty } from './storage/list-or-empty.js';
import { StoragePaths } from './storage/paths.js';

/**
 * Every repository with at least one manifest, sorted. Walks the whole tree: the search index
 * answers the catalog at scale.
 */
export async function listRepositories(driver: StorageDriver): Promise<string[]> {
  const names: string[] = [];
  for (const name of await listRepositoryFolders(driver, '_manifests')) if (await hasManifests(driver, name)) names.push(name);
  return names;
}

/**
 * Every repository folder holding `marker` (manifests, or upload sessions), sorted; a folder under
 * /repositories whose name does not start with `_` is a deeper name component.
 */
export async function listRepositoryFolders(driver: StorageDriver, marker: '_manifests' | '_uploads'): Promise<string[]> {
  const names: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const children = await listOrEmpty(driver, path);
    const bases = children.map((child) => child.slice(child.lastIndexOf('/') + 1));
    if (bases.includes(marker)) names.push(path.slice(StoragePaths.repositoriesRoot.length + 1));
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
