import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { PathNotFoundError, type StorageDriver } from '../../registry/storage/driver.js';
import { InvalidPathError } from '../../registry/storage/driver-arguments.js';

/** What a driver's test file provides: a fresh, empty driver and a way to dispose of it. */
export type DriverFactory = () => Promise<{ driver: StorageDriver; cleanup(): Promise<void> }>;

const MiB = 1024 * 1024;

/** Registers the behaviour every StorageDriver must show, so each driver is held to the same contract. */
export function runDriverSuite(name: string, makeDriver: DriverFactory): void {
  describe(`${name} storage driver`, () => {
    let driver: StorageDriver;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ driver, cleanup } = await makeDriver());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('putContent and getContent', () => {
      test('getContent returns what putContent stored', async () => {
        const content = randomBytes(4096);
        await driver.putContent('/a/b/object', content);
        assert.deepEqual(await driver.getContent('/a/b/object'), content);
      });

      test('putContent replaces existing content', async () => {
        await driver.putContent('/object', text('a longer first version'));
        await driver.putContent('/object', text('second'));
        assert.equal((await driver.getContent('/object')).toString(), 'second');
      });

      test('putContent stores an empty object', async () => {
        await driver.putContent('/empty', new Uint8Array(0));
        assert.equal((await driver.getContent('/empty')).length, 0);
        assert.equal((await driver.stat('/empty'))?.size, 0);
      });

      test('putContent leaves nothing beside the object', async () => {
        await driver.putContent('/folder/object', text('x'));
        await driver.putContent('/folder/object', text('y'));
        assert.deepEqual(await driver.list('/folder'), ['/folder/object']);
      });

      test('getContent of a missing path throws PathNotFoundError', async () => {
        await assert.rejects(driver.getContent('/missing'), PathNotFoundError);
      });

      test('getContent of a folder throws PathNotFoundError', async () => {
        await driver.putContent('/folder/object', text('x'));
        await assert.rejects(driver.getContent('/folder'), PathNotFoundError);
      });
    });

    describe('stat', () => {
      test('stat of an object gives its size and modification time', async () => {
        const before = Date.now();
        await driver.putContent('/folder/object', randomBytes(1234));
        const info = await driver.stat('/folder/object');
        assert.ok(info);
        assert.equal(info.path, '/folder/object');
        assert.equal(info.size, 1234);
        assert.equal(info.isDirectory, false);
        // Filesystems may round mtimes down to the second.
        assert.ok(Math.abs(info.modTime.getTime() - before) < 5000, `modTime ${info.modTime.toISOString()} is not recent`);
      });

      test('stat of a folder reports a directory of size 0', async () => {
        await driver.putContent('/folder/nested/object', text('x'));
        for (const folder of ['/folder', '/folder/nested']) {
          const info = await driver.stat(folder);
          assert.ok(info, folder);
          assert.equal(info.path, folder);
          assert.equal(info.isDirectory, true);
          assert.equal(info.size, 0);
        }
      });

      test('stat of a missing path is undefined', async () => {
        await driver.putContent('/folder/object', text('x'));
        assert.equal(await driver.stat('/missing'), undefined);
        assert.equal(await driver.stat('/folder/missing'), undefined);
        assert.equal(await driver.stat('/folder/object/below-an-object'), undefined);
      });
    });

    describe('copyTo', () => {
      const content = Buffer.from('0123456789abcdef');

      test('copyTo streams the whole object', async () => {
        await driver.putContent('/object', content);
        assert.deepEqual(await copyAll(driver, '/object'), content);
      });

      test('copyTo honours offset and length', async () => {
        await driver.putContent('/object', content);
        assert.equal((await copyAll(driver, '/object', 3, 5)).toString(), '34567');
      });

      test('copyTo with an offset and no length reads to the end', async () => {
        await driver.putContent('/object', content);
        assert.equal((await copyAll(driver, '/object', 10)).toString(), 'abcdef');
      });

      test('copyTo with a length past the end stops at the end', async () => {
        await driver.putContent('/object', content);
        assert.equal((await copyAll(driver, '/object', 14, 100)).toString(), 'ef');
      });

      test('copyTo with zero length yields nothing', async () => {
        await driver.putContent('/object', content);
        assert.equal((await copyAll(driver, '/object', 4, 0)).length, 0);
      });

      test('copyTo rejects when the destination fails, and leaves the object intact', async () => {
        const big = randomBytes(3 * MiB);
        await driver.putContent('/object', big);
        const failing = new Writable({ write: (_chunk, _encoding, done) => done(new Error('client went away')) });
        failing.on('error', () => {});
        await assert.rejects(driver.copyTo('/object', failing), /client went away/);
        assert.equal(await sha256Of(driver, '/object'), sha256(big));
      });

      test('copyTo waits for a slow destination and delivers every byte in order', async () => {
        const big = randomBytes(5 * MiB + 11);
        await driver.putContent('/object', big);
        const chunks: Buffer[] = [];
        const slow = new Writable({
          highWaterMark: 1,
          write(chunk: Buffer, _encoding, done) {
            chunks.push(Buffer.from(chunk));
            setTimeout(done, 5);
          },
        });
        await driver.copyTo('/object', slow);
        assert.ok(Buffer.concat(chunks).equals(big));
      });

      test('copyTo of a missing path throws PathNotFoundError', async () => {
        await assert.rejects(driver.copyTo('/missing', discard()), PathNotFoundError);
      });

      test('copyTo of a folder throws PathNotFoundError', async () => {
        await driver.putContent('/folder/object', content);
        await assert.rejects(driver.copyTo('/folder', discard()), PathNotFoundError);
      });

      test('copyTo rejects a negative offset or length', async () => {
        await driver.putContent('/object', content);
        await assert.rejects(driver.copyTo('/object', discard(), -1), RangeError);
        await assert.rejects(driver.copyTo('/object', discard(), 0, -1), RangeError);
      });
    });

    describe('writer', () => {
      test('20 MiB streamed through writer and copyTo keeps its sha256', async () => {
        const content = randomBytes(20 * MiB);
        const writer = await driver.writer('/uploads/big/data', false);
        await pipeline(Readable.from(chunksOf(content, 300_000)), writer.stream);
        assert.equal(writer.size(), content.length);
        await writer.commit();

        assert.equal((await driver.stat('/uploads/big/data'))?.size, content.length);
        assert.equal(await sha256Of(driver, '/uploads/big/data'), sha256(content));
        const [offset, length] = [5 * MiB + 3, 3 * MiB + 7];
        const range = await sha256Of(driver, '/uploads/big/data', offset, length);
        assert.equal(range, sha256(content.subarray(offset, offset + length)));
      });

      test('writer creates a new object and size counts the bytes written', async () => {
        const writer = await driver.writer('/folder/new', false);
        assert.equal(writer.size(), 0);
        await pipeline(Readable.from([text('hello')]), writer.stream);
        assert.equal(writer.size(), 5);
        await writer.commit();
        assert.equal((await driver.getContent('/folder/new')).toString(), 'hello');
      });

      test('commit ends a stream that is still open', async () => {
        const writer = await driver.writer('/object', false);
        writer.stream.write(text('written, not ended'));
        await writer.commit();
        assert.equal((await driver.getContent('/object')).toString(), 'written, not ended');
      });

      test('writers with append continue where the last one stopped', async () => {
        const first = await driver.writer('/upload', true);
        await pipeline(Readable.from([text('hello ')]), first.stream);
        await first.commit();

        const second = await driver.writer('/upload', true);
        assert.equal(second.size(), 6);
        await pipeline(Readable.from([text('world')]), second.stream);
        assert.equal(second.size(), 11);
        await second.commit();

        assert.equal((await driver.getContent('/upload')).toString(), 'hello world');
      });

      test('a closed writer is continued by the next appending writer and readable once one commits', async () => {
        const first = await driver.writer('/upload/data', true);
        await pipeline(Readable.from([text('hello ')]), first.stream);
        await first.close();
        assert.equal((await driver.stat('/upload/data'))?.size, 6);
        assert.equal((await driver.stat('/upload/data'))?.isDirectory, false);
        assert.deepEqual(await driver.list('/upload'), ['/upload/data']);

        const second = await driver.writer('/upload/data', true);
        assert.equal(second.size(), 6);
        await pipeline(Readable.from([text('world')]), second.stream);
        await second.commit();
        assert.equal((await driver.getContent('/upload/data')).toString(), 'hello world');
        assert.deepEqual(await driver.list('/upload'), ['/upload/data']);
      });

      test('appends across several writers and part boundaries keep every byte in order', async () => {
        const content = randomBytes(17 * MiB + 5);
        const cuts = [1, 3 * MiB, 3 * MiB + 1, 9 * MiB, 11 * MiB, 16 * MiB + 7, content.length];
        let start = 0;
        for (const [i, end] of cuts.entries()) {
          const writer = await driver.writer('/upload/data', true);
          assert.equal(writer.size(), start);
          await pipeline(Readable.from(chunksOf(content.subarray(start, end), 700_000)), writer.stream);
          if (i === cuts.length - 1) await writer.commit();
          else await writer.close();
          start = end;
          assert.equal((await driver.stat('/upload/data'))?.size, end);
        }
        assert.equal(await sha256Of(driver, '/upload/data'), sha256(content));
        assert.equal(await sha256Of(driver, '/upload/data', 4 * MiB, 9 * MiB), sha256(content.subarray(4 * MiB, 13 * MiB)));
      });

      test('version names the content: the next writer finds what the last one left, and a write changes it', async () => {
        const first = await driver.writer('/upload', true);
        await pipeline(Readable.from([text('one')]), first.stream);
        await first.close();
        const second = await driver.writer('/upload', true);
        assert.equal(second.version(), first.version());
        await pipeline(Readable.from([text('two')]), second.stream);
        await second.close();
        assert.notEqual(second.version(), first.version());
        const third = await driver.writer('/upload', true);
        assert.equal(third.version(), second.version());
        await third.cancel();
      });

      test('cancel of a writer that continues a closed one restores what was closed', async () => {
        const first = await driver.writer('/upload', true);
        await pipeline(Readable.from([randomBytes(6 * MiB)]), first.stream);
        await first.close();
        const second = await driver.writer('/upload', true);
        await pipeline(Readable.from([randomBytes(7 * MiB)]), second.stream);
        await second.cancel();
        assert.equal((await driver.stat('/upload'))?.size, 6 * MiB);
        const third = await driver.writer('/upload', true);
        await third.commit();
        assert.equal((await driver.getContent('/upload')).length, 6 * MiB);
      });

      test('delete of a folder takes an unfinished write below it', async () => {
        const writer = await driver.writer('/uploads/id/data', true);
        await pipeline(Readable.from([randomBytes(6 * MiB + 3)]), writer.stream);
        await writer.close();
        await driver.delete('/uploads/id');
        assert.equal(await driver.stat('/uploads/id/data'), undefined);
        const again = await driver.writer('/uploads/id/data', true);
        assert.equal(again.size(), 0);
        await pipeline(Readable.from([text('fresh')]), again.stream);
        await again.commit();
        assert.equal((await driver.getContent('/uploads/id/data')).toString(), 'fresh');
      });

      test('writer without append replaces existing content', async () => {
        await driver.putContent('/object', text('old content'));
        const writer = await driver.writer('/object', false);
        assert.equal(writer.size(), 0);
        await pipeline(Readable.from([text('new')]), writer.stream);
        await writer.commit();
        assert.equal((await driver.getContent('/object')).toString(), 'new');
      });

      test('cancel of a new writer leaves no object', async () => {
        const writer = await driver.writer('/folder/new', false);
        await pipeline(Readable.from([text('discarded')]), writer.stream);
        await writer.cancel();
        assert.equal(await driver.stat('/folder/new'), undefined);
      });

      test('cancel of an appending writer restores the content at open', async () => {
        await driver.putContent('/upload', text('kept'));
        const writer = await driver.writer('/upload', true);
        await pipeline(Readable.from([text(' and discarded')]), writer.stream);
        await writer.cancel();
        assert.equal((await driver.getContent('/upload')).toString(), 'kept');
      });

      test('cancel while a write is still open restores the content at open', async () => {
        await driver.putContent('/upload', text('kept'));
        const writer = await driver.writer('/upload', true);
        writer.stream.write(randomBytes(3 * MiB));
        await writer.cancel();
        assert.equal((await driver.getContent('/upload')).toString(), 'kept');
      });

      test('cancel after the stream failed is safe, and commit then rejects', async () => {
        await driver.putContent('/upload', text('kept'));
        const writer = await driver.writer('/upload', true);
        const failure = new Error('client went away');
        writer.stream.on('error', () => {}); // the failure is the point of the test
        writer.stream.write(text('partial'));
        writer.stream.destroy(failure);
        await assert.rejects(writer.commit(), failure);
        await writer.cancel();
        assert.equal((await driver.getContent('/upload')).toString(), 'kept');
      });

      test('commit of a destroyed stream rejects and stores nothing', async () => {
        const writer = await driver.writer('/folder/new', false);
        writer.stream.write(text('partial'));
        writer.stream.destroy();
        await assert.rejects(writer.commit());
        await writer.cancel();
        assert.equal(await driver.stat('/folder/new'), undefined);
      });
    });

    describe('list', () => {
      test('list gives the sorted full paths of direct children', async () => {
        for (const path of ['/root/b', '/root/a/deep/object', '/root/c/object', '/root/a/other', '/elsewhere']) {
          await driver.putContent(path, text(path));
        }
        assert.deepEqual(await driver.list('/root'), ['/root/a', '/root/b', '/root/c']);
        assert.deepEqual(await driver.list('/root/a'), ['/root/a/deep', '/root/a/other']);
        assert.deepEqual(await driver.list('/'), ['/elsewhere', '/root']);
      });

      test('list of a missing folder throws PathNotFoundError', async () => {
        await driver.putContent('/folder/object', text('x'));
        await assert.rejects(driver.list('/missing'), PathNotFoundError);
        await assert.rejects(driver.list('/folder/missing'), PathNotFoundError);
      });

      test('list of an object throws PathNotFoundError', async () => {
        await driver.putContent('/folder/object', text('x'));
        await assert.rejects(driver.list('/folder/object'), PathNotFoundError);
      });
    });

    describe('move', () => {
      test('move puts the object at the new path, creating folders, and removes the old one', async () => {
        await driver.putContent('/uploads/id/data', text('blob'));
        await driver.move('/uploads/id/data', '/blobs/sha256/ab/abcd/data');
        assert.equal((await driver.getContent('/blobs/sha256/ab/abcd/data')).toString(), 'blob');
        assert.equal(await driver.stat('/uploads/id/data'), undefined);
      });

      test('move replaces an existing object', async () => {
        await driver.putContent('/from', text('new'));
        await driver.putContent('/to', text('old content'));
        await driver.move('/from', '/to');
        assert.equal((await driver.getContent('/to')).toString(), 'new');
        assert.equal(await driver.stat('/from'), undefined);
      });

      test('move of a 12 MiB object written in parts keeps every byte, read whole and by range', async () => {
        const content = randomBytes(12 * MiB + 5);
        const writer = await driver.writer('/uploads/id/data', false);
        await pipeline(Readable.from(chunksOf(content, MiB)), writer.stream);
        await writer.commit();
        await driver.move('/uploads/id/data', '/blobs/sha256/ab/abcd/data');
        assert.equal((await driver.stat('/blobs/sha256/ab/abcd/data'))?.size, content.length);
        assert.equal(await sha256Of(driver, '/blobs/sha256/ab/abcd/data'), sha256(content));
        // Ranges across the 5 MiB boundaries (S3's least part size) and the last few bytes.
        for (const [offset, length] of [[5 * MiB - 3, 7], [10 * MiB - 1, 2 * MiB], [12 * MiB, 5]] as const) {
          assert.ok((await copyAll(driver, '/blobs/sha256/ab/abcd/data', offset, length)).equals(content.subarray(offset, offset + length)), `${offset}+${length}`);
        }
        assert.equal(await driver.stat('/uploads/id/data'), undefined);
      });

      test('move of a missing source throws PathNotFoundError and changes nothing', async () => {
        await driver.putContent('/to', text('untouched'));
        await assert.rejects(driver.move('/missing', '/to'), PathNotFoundError);
        await assert.rejects(driver.move('/missing', '/new/folder/to'), PathNotFoundError);
        assert.equal((await driver.getContent('/to')).toString(), 'untouched');
        assert.equal(await driver.stat('/new'), undefined);
      });
    });

    describe('delete', () => {
      test('delete removes an object and keeps its siblings', async () => {
        await driver.putContent('/folder/doomed', text('x'));
        await driver.putContent('/folder/kept', text('y'));
        await driver.delete('/folder/doomed');
        assert.equal(await driver.stat('/folder/doomed'), undefined);
        assert.deepEqual(await driver.list('/folder'), ['/folder/kept']);
      });

      test('delete removes a folder and everything below it', async () => {
        await driver.putContent('/repo/_uploads/id/data', text('x'));
        await driver.putContent('/repo/_uploads/id/startedat', text('y'));
        await driver.putContent('/repo/_uploads/other/data', text('z'));
        await driver.putContent('/repo/_layers/link', text('kept'));
        await driver.delete('/repo/_uploads');
        assert.equal(await driver.stat('/repo/_uploads'), undefined);
        assert.equal(await driver.stat('/repo/_uploads/id/data'), undefined);
        assert.deepEqual(await driver.list('/repo'), ['/repo/_layers']);
      });

      test('delete does not touch paths that merely share a prefix', async () => {
        await driver.putContent('/folder/object', text('x'));
        await driver.putContent('/folder-sibling/object', text('y'));
        await driver.delete('/folder');
        assert.equal((await driver.getContent('/folder-sibling/object')).toString(), 'y');
      });

      test('delete of a missing path throws PathNotFoundError', async () => {
        await assert.rejects(driver.delete('/missing'), PathNotFoundError);
      });
    });

    describe('path validation', () => {
      const invalidPaths = ['relative/path', '', '/a/../b', '/..', '/a/./b', '/a//b', '/a/', '/a\0b', '/.hidden', '/a/.upload'];

      for (const path of invalidPaths) {
        test(`every method rejects ${JSON.stringify(path)}`, async () => {
          await driver.putContent('/valid', text('x'));
          const calls: [string, () => Promise<unknown>][] = [
            ['stat', () => driver.stat(path)],
            ['getContent', () => driver.getContent(path)],
            ['putContent', () => driver.putContent(path, text('x'))],
            ['copyTo', () => driver.copyTo(path, discard())],
            ['writer', () => driver.writer(path, false)],
            ['list', () => driver.list(path)],
            ['move from', () => driver.move(path, '/elsewhere')],
            ['move to', () => driver.move('/valid', path)],
            ['delete', () => driver.delete(path)],
          ];
          for (const [method, call] of calls) {
            await assert.rejects(call(), InvalidPathError, `${method} accepted ${JSON.stringify(path)}`);
          }
          assert.equal((await driver.getContent('/valid')).toString(), 'x');
        });
      }
    });
  });
}

function text(value: string): Buffer {
  return Buffer.from(value);
}

function* chunksOf(data: Buffer, chunkSize: number): Generator<Buffer> {
  for (let start = 0; start < data.length; start += chunkSize) yield data.subarray(start, start + chunkSize);
}

/** The bytes copyTo writes; chunks are copied because a driver may reuse its buffers after each write. */
export async function copyAll(driver: StorageDriver, path: string, offset?: number, length?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  await driver.copyTo(path, collect, offset, length);
  return Buffer.concat(chunks);
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The sha256 of what copyTo writes, in hex. */
export async function sha256Of(driver: StorageDriver, path: string, offset?: number, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const hashing = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done();
    },
  });
  await driver.copyTo(path, hashing, offset, length);
  return hash.digest('hex');
}
