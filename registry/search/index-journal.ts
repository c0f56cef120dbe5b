import { randomBytes, randomUUID } from 'node:crypto';
import type { ManifestChange } from '../manifest-store.js';
import { deleteIfPresent } from '../storage/delete-if-present.js';
import { PathNotFoundError, type StorageDriver } from '../storage/driver.js';
import { listOrEmpty } from '../storage/list-or-empty.js';
import { StoragePaths } from '../storage/paths.js';

// `<ms since epoch, 15 digits>-<instance>-<random>`: sorts by time; the random part keeps two
// processes started from copies of one index from overwriting each other's changes.
const CHANGE_ID = /^(\d{15})-([0-9a-f]{8,32})-[0-9a-f]{12}$/;

/**
 * What registry instances sharing one storage tell each other about their search indexes, kept in
 * storage beside the data: the storage generation (replaced by whoever changes storage without a
 * running registry seeing it), a journal of manifest and tag changes (so each instance updates its
 * own index with the others' writes), and per instance how far it has pruned its old changes.
 */
export class IndexJournal {
  /** `instance` names this registry's changes; an index keeps it across restarts. */
  constructor(private readonly driver: StorageDriver, readonly instance: string) {}

  /** The storage generation, created when storage has none yet. */
  async generation(): Promise<string> {
    try {
      return (await this.driver.getContent(StoragePaths.searchGeneration)).toString();
    } catch (error) {
      if (!(error instanceof PathNotFoundError)) throw error;
      return this.renewGeneration();
    }
  }

  /** Starts a new storage generation: every index built from an older one is rebuilt. */
  async renewGeneration(): Promise<string> {
    const generation = randomUUID();
    await this.driver.putContent(StoragePaths.searchGeneration, Buffer.from(generation));
    return generation;
  }

  /** Records a change made through this instance; returns its id. */
  async append(change: ManifestChange): Promise<string> {
    const id = `${String(Date.now()).padStart(15, '0')}-${this.instance}-${randomBytes(6).toString('hex')}`;
    await this.driver.putContent(StoragePaths.searchChange(id), Buffer.from(JSON.stringify(change)));
    return id;
  }

  /** The ids of every recorded change, oldest first. */
  async ids(): Promise<string[]> {
    const paths = await listOrEmpty(this.driver, StoragePaths.searchChangesRoot);
    // Drivers may show a half-written object's temporary name; only whole ids count.
    return paths.map((path) => path.slice(path.lastIndexOf('/') + 1)).filter((id) => CHANGE_ID.test(id)).sort();
  }

  /** A recorded change, or undefined when it was pruned meanwhile or is not one. */
  async read(id: string): Promise<ManifestChange | undefined> {
    let json: unknown;
    try {
      json = JSON.parse((await this.driver.getContent(StoragePaths.searchChange(id))).toString('utf8'));
    } catch (error) {
      if (error instanceof PathNotFoundError || error instanceof SyntaxError) return undefined;
      throw error;
    }
    const change = json as ManifestChange;
    const strings = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'string');
    return typeof change?.name === 'string' && strings(change.digests) && strings(change.tags) ? change : undefined;
  }

  /**
   * Deletes this instance's changes recorded more than `maxAgeMs` ago (every other instance has synced
   * them by then, or notices it may have missed some: see prunedSince), and any instance's older than
   * `abandonedMs` (instances that went away).
   */
  async prune(ids: readonly string[], maxAgeMs: number, abandonedMs: number): Promise<void> {
    const now = Date.now();
    let newest = 0;
    for (const id of ids) {
      const [, time, instance] = CHANGE_ID.exec(id)!;
      const age = now - Number(time);
      if (age <= (instance === this.instance ? maxAgeMs : abandonedMs)) continue;
      await deleteIfPresent(this.driver, StoragePaths.searchChange(id));
      newest = Math.max(newest, Number(time));
    }
    if (newest > 0) await this.driver.putContent(StoragePaths.searchPruned(this.instance), Buffer.from(String(newest)));
  }

  /** Whether another instance pruned a change recorded after `time` (ms): an index synced at `time` may lack it. */
  async prunedSince(time: number): Promise<boolean> {
    for (const path of await listOrEmpty(this.driver, StoragePaths.searchPrunedRoot)) {
      if (path.endsWith(`/${this.instance}`)) continue;
      let newest: number;
      try {
        newest = Number((await this.driver.getContent(path)).toString());
      } catch (error) {
        if (error instanceof PathNotFoundError) continue;
        throw error;
      }
      if (!(newest < time)) return true;
    }
    return false;
  }
}
