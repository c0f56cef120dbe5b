import { PathNotFoundError, type StorageDriver } from './driver.js';

/** The children of a folder, or none when the folder does not exist. */
export async function listOrEmpty(driver: StorageDriver, path: string): Promise<string[]> {
  try {
    return await driver.list(path);
  } catch (error) {
    if (error instanceof PathNotFoundError) return [];
    throw error;
  }
}
