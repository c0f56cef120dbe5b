import { PathNotFoundError, type StorageDriver } from './storage/driver.js';
import { StoragePaths } from './storage/paths.js';

/**
 * Every repository name in storage holding `marker` (manifests, or upload sessions), sorted.
 * Children of a folder under /repositories that do not start with `_` are deeper name components. Walks the whole tree: the search index (SQLite) answers the catalog at scale.
 */
export async function listRepositories(driver: StorageDriver, marker: '_manifests' | '_uploads' = '_manifests'): Promise<string[]> {
  const names: string[] = [];
  const walk = async (path: string): Promise<void> => {
    let children: string[];
    try {
      children = await driver.list(path);
    } catch (error) {
      if (error instanceof PathNotFoundError) return;
      throw error;
    }
    const name = path.slice(StoragePaths.repositoriesRoot.length + 1);
    const bases = children.map((child) => child.slice(child.lastIndexOf('/') + 1));
    if (bases.includes(marker)) names.push(name);
    for (const child of children) {
      if (!child.slice(child.lastIndexOf('/') + 1).startsWith('_')) await walk(child);
    }
  };
  await walk(StoragePaths.repositoriesRoot);
  return names.sort();
}
