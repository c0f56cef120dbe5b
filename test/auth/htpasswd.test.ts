// Htpasswd against files written by the real `htpasswd` command (apache2-utils).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Htpasswd } from '../../registry/auth/htpasswd.js';
import { ConfigError } from '../../registry/config.js';
import { hasCommand } from '../e2e/harness.js';
import { writeHtpasswd } from '../support/htpasswd-file.js';
import { tempDir } from '../support/temp-dir.js';

const skip = (await hasCommand('htpasswd')) ? false : 'htpasswd (apache2-utils) not installed';
const htpasswd = (...args: string[]) => promisify(execFile)('htpasswd', args);

/** Asserts Htpasswd.load throws one line naming the file, the line and `pattern`. */
function assertRefused(path: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => Htpasswd.load(path),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.message.startsWith(`--htpasswd ${path} line ${line}: `), error.message);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes('\n'));
      return true;
    },
  );
}

describe('htpasswd files', { skip }, () => {
  test('bcrypt entries from htpasswd -B -b -c check passwords; wrong ones and unknown users fail', async (t) => {
    const path = join(await tempDir(t), 'htpasswd');
    await writeHtpasswd(path, { alice: 'correct horse', bob: 'p:ss wörd' });
    assert.match(await readFile(path, 'utf8'), /^alice:\$2y\$05\$/);
    const users = Htpasswd.load(path);
    assert.equal(await users.verify('alice', 'correct horse'), true);
    assert.equal(await users.verify('bob', 'p:ss wörd'), true, 'colons and non-ASCII in passwords');
    assert.equal(await users.verify('alice', 'correct horse '), false);
    assert.equal(await users.verify('alice', ''), false);
    assert.equal(await users.verify('bob', 'correct horse'), false, "another user's password");
    assert.equal(await users.verify('carol', 'correct horse'), false);
  });

  test('the $2a$ and $2b$ spellings of bcrypt are read too; blank lines are skipped', async (t) => {
    const dir = await tempDir(t);
    const { stdout } = await htpasswd('-nbB', 'dave', 'secret');
    const hash = stdout.trim().split(':')[1]!;
    const path = join(dir, 'htpasswd');
    await writeFile(path, `dave:${hash.replace('$2y$', '$2a$')}\n\nerin:${hash.replace('$2y$', '$2b$')}\r\n`);
    const users = Htpasswd.load(path);
    assert.equal(await users.verify('dave', 'secret'), true);
    assert.equal(await users.verify('erin', 'secret'), true);
  });

  test('other hash kinds are refused at start with the line that holds them', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'htpasswd');
    await writeHtpasswd(path, { alice: 'a' });
    await htpasswd('-b', '-m', path, 'md5user', 'pw');
    assertRefused(path, 2, /user "md5user" has an MD5 \(apr1\) hash; only bcrypt entries are supported \(write them with htpasswd -B\)/);
    await writeHtpasswd(path, { alice: 'a' });
    await htpasswd('-b', '-s', path, 'shauser', 'pw');
    assertRefused(path, 2, /user "shauser" has a SHA-1 hash/);
    await writeHtpasswd(path, { alice: 'a' });
    await htpasswd('-b', '-p', path, 'plain', 'pw');
    assertRefused(path, 2, /user "plain" has a hash that is not bcrypt/);
  });

  test('malformed lines, repeated users and missing files are named', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'htpasswd');
    const { stdout } = await htpasswd('-nbB', 'alice', 'a');
    await writeFile(path, `${stdout.trim()}\njust-a-name\n`);
    assertRefused(path, 2, /not a "user:hash" entry/);
    await writeFile(path, `${stdout.trim()}\n${stdout.trim()}\n`);
    assertRefused(path, 2, /user "alice" is listed twice/);
    assert.throws(() => Htpasswd.load(join(dir, 'absent')), (error: unknown) => error instanceof ConfigError && error.message === `--htpasswd ${join(dir, 'absent')}: no such file`);
  });

  test("a user's fingerprint changes with the password and is compared in full", async (t) => {
    const path = join(await tempDir(t), 'htpasswd');
    await writeHtpasswd(path, { alice: 'one' });
    const before = Htpasswd.load(path);
    const fingerprint = before.fingerprint('alice')!;
    assert.equal(before.fingerprintMatches('alice', fingerprint), true);
    assert.equal(before.fingerprintMatches('alice', fingerprint.slice(0, -1)), false);
    assert.equal(before.fingerprintMatches('bob', fingerprint), false);
    await writeHtpasswd(path, { alice: 'two' });
    assert.equal(Htpasswd.load(path).fingerprintMatches('alice', fingerprint), false);
  });
});
