// Golden tests: fixtures/frontend/<case>/Dockerfile parses to <case>/expected.json.
// UPDATE_GOLDEN=1 rewrites the expected files; review the diff by hand before keeping it.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parseDockerfile } from '../../builder/frontend/parse.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the test file');
    dir = parent;
  }
  return dir;
}

const fixtures = path.join(repoRoot(), 'fixtures', 'frontend');
const update = process.env['UPDATE_GOLDEN'] === '1';
const cases = readdirSync(fixtures, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('golden Dockerfiles', () => {
  test('there are golden cases', () => {
    assert.ok(cases.length >= 10, `only ${cases.length} cases in ${fixtures}`);
  });

  for (const name of cases) {
    test(`${name} parses to expected.json`, () => {
      const dir = path.join(fixtures, name);
      const parsed = parseDockerfile(readFileSync(path.join(dir, 'Dockerfile'), 'utf8'), 'Dockerfile');
      const actual = JSON.stringify(parsed, null, 2) + '\n';
      const expectedFile = path.join(dir, 'expected.json');
      if (update) {
        writeFileSync(expectedFile, actual);
        return;
      }
      assert.ok(existsSync(expectedFile), `${expectedFile} is missing: run with UPDATE_GOLDEN=1 and review it`);
      assert.deepEqual(JSON.parse(actual), JSON.parse(readFileSync(expectedFile, 'utf8')));
    });
  }
});
