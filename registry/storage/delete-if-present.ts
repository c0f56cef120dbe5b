import { PathNotFoundError, type StorageDriver } from './driver.js';

/** Deletes an object or folder; one that is already gone is no error. */
export async function deleteIfPresent(driver: StorageDriver, path: string): Promise<void> {
  try {
    await driver.delete(path);
  } catch (error) {
    if (!(error instanceof PathNotFoundError)) throw error;
  }
}
