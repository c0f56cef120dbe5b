// The search index's records in storage that registries sharing it read: the generation, the change
// journal and how far each instance pruned it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { IndexJournal } from '../../registry/search/index-journal.js';
import { MemoryDriver } from '../../registry/storage/memory.js';
import { StoragePaths } from '../../registry/storage/paths.js';
import type { Digest } from '../../shared/digest.js';

const change = (name: string) => ({ name, digests: [] as Digest[], tags: ['latest'] });

describe('IndexJournal', () => {
  test('the generation is created once and renewed on demand', async () => {
    const storage = new MemoryDriver();
    const one = new IndexJournal(storage, 'aaaaaaaa');
    const first = await one.generation();
    assert.equal(await new IndexJournal(storage, 'bbbbbbbb').generation(), first);
    const renewed = await one.renewGeneration();
    assert.notEqual(renewed, first);
    assert.equal(await one.generation(), renewed);
  });

  test('changes are listed oldest first and read back; unreadable ones are skipped', async () => {
    const storage = new MemoryDriver();
    const journal = new IndexJournal(storage, 'aaaaaaaa');
    const first = await journal.append(change('one'));
    await delay(2);
    const second = await journal.append(change('two'));
    await storage.putContent(StoragePaths.searchChange('tmp-123'), Buffer.from('{}'));
    assert.deepEqual(await journal.ids(), [first, second]);
    assert.deepEqual(await journal.read(second), change('two'));
    await storage.putContent(StoragePaths.searchChange(first), Buffer.from('not json'));
    assert.equal(await journal.read(first), undefined);
    assert.equal(await journal.read('000000000000000-aaaaaaaa-000000000000'), undefined);
  });

  test('an instance prunes its own old changes and says how far; others learn they may have missed some', async () => {
    const storage = new MemoryDriver();
    const writer = new IndexJournal(storage, 'aaaaaaaa');
    const reader = new IndexJournal(storage, 'bbbbbbbb');
    const syncedAt = Date.now();
    await writer.append(change('one'));
    await reader.append(change('two'));
    await delay(5);
    assert.equal(await reader.prunedSince(syncedAt), false, 'nothing pruned yet');
    await writer.prune(await writer.ids(), 0, 60_000);
    assert.equal((await writer.ids()).length, 1, 'only its own change is pruned');
    assert.equal(await reader.prunedSince(syncedAt), true, 'a change recorded after the sync was pruned');
    assert.equal(await reader.prunedSince(Date.now() + 1000), false, 'nothing recorded after a later sync was pruned');
    assert.equal(await writer.prunedSince(syncedAt), false, 'its own pruning does not count for itself');
    // The changes of an instance that went away are pruned by the others, later.
    await writer.prune(await writer.ids(), 0, 0);
    assert.deepEqual(await writer.ids(), []);
  });
});
