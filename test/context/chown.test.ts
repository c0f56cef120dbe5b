import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChownError, resolveChown } from '../../builder/context/copy-plan.js';

// From dist/test/context/ back to the repository's fixtures.
const FIXTURES = fileURLToPath(new URL('../../../fixtures/context/', import.meta.url));

/** An image whose /etc/passwd and /etc/group are the fixtures (or missing). */
function image(files: { passwd?: boolean; group?: boolean } = { passwd: true, group: true }) {
  return async (path: string): Promise<Buffer | undefined> => {
    if (path === '/etc/passwd' && files.passwd) return readFile(`${FIXTURES}passwd`);
    if (path === '/etc/group' && files.group) return readFile(`${FIXTURES}group`);
    return undefined;
  };
}

test('--chown values resolve as BuildKit resolves them', async () => {
  const cases: [string, number, number][] = [
    ['1000', 1000, 1000], // a numeric user alone is also the group (no passwd lookup)
    ['app', 1000, 2000], // a named user brings its primary group; the first entry wins
    ['app:staff', 1000, 50],
    ['1000:staff', 1000, 50],
    ['app:7', 1000, 7],
    [':staff', 0, 50],
    ['www-data:www-data', 33, 33],
    ['0:0', 0, 0],
    ['app:', 1000, 2000],
    ['4294967294', 4294967294, 4294967294],
  ];
  for (const [spec, uid, gid] of cases) assert.deepEqual(await resolveChown(spec, image()), { uid, gid }, spec);
});

test('numeric ids need no /etc/passwd', async () => {
  assert.deepEqual(await resolveChown('5:6', image({})), { uid: 5, gid: 6 });
});

test('unknown names are refused with a message naming them', async () => {
  await assert.rejects(resolveChown('nobody', image()), new ChownError('unable to find user nobody: no matching entries in passwd file'));
  await assert.rejects(resolveChown('app:wheel', image()), new ChownError('unable to find group wheel: no matching entries in group file'));
  await assert.rejects(resolveChown('app', image({})), new ChownError('unable to find user app: the image has no /etc/passwd'));
  await assert.rejects(resolveChown('1:staff', image({ passwd: true })), new ChownError('unable to find group staff: the image has no /etc/group'));
  // A comment line is not a user named "# a comment line".
  await assert.rejects(resolveChown('# a comment line', image()), ChownError);
});

test('malformed values and ids are refused', async () => {
  await assert.rejects(resolveChown('', image()), /invalid --chown value ""/);
  await assert.rejects(resolveChown(':', image()), /invalid --chown value ":"/);
  await assert.rejects(resolveChown('4294967295', image()), /not a valid user or group id/);
  await assert.rejects(resolveChown('broken', image()), /"notanumber" is not a valid user or group id/);
});
