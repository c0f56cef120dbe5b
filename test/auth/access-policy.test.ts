// The access policy: globs, who a rule names, the default without a file, and bad files.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AccessPolicy, globPattern } from '../../registry/auth/access-policy.js';
import { ConfigError } from '../../registry/config.js';
import { tempDir } from '../support/temp-dir.js';

async function policyFile(t: Parameters<typeof tempDir>[0], text: string): Promise<string> {
  const path = join(await tempDir(t), 'access.yaml');
  await writeFile(path, text);
  return path;
}

test('globs: * stays within one path segment, ** crosses them', () => {
  const cases: [string, string, boolean][] = [
    ['team/*', 'team/app', true],
    ['team/*', 'team/app/sub', false],
    ['team/*', 'team', false],
    ['team/*', 'other/app', false],
    ['team/**', 'team/app', true],
    ['team/**', 'team/app/sub/deeper', true],
    ['**', 'anything/at/all', true],
    ['*', 'app', true],
    ['*', 'team/app', false],
    ['*/app', 'team/app', true],
    ['*/app', 'a/b/app', false],
    ['**/app', 'a/b/app', true],
    ['team/app-*', 'team/app-1', true],
    ['team/app.v1', 'team/appxv1', false],
    ['lib', 'lib', true],
    ['lib', 'library', false],
  ];
  for (const [glob, name, matches] of cases) assert.equal(globPattern(glob).test(name), matches, `${glob} ~ ${name}`);
});

test('rules grant actions to named users, "*" (every authenticated user) and "anonymous"', async (t) => {
  const policy = AccessPolicy.load(
    await policyFile(t, `
- repos: [team/**]
  users: [alice]
  actions: [pull, push]
- repos: [team/**, shared/*]
  users: ["*"]
  actions: [pull]
- repos: [public/*]
  users: [anonymous]
  actions: [pull]
- repos: [team/app]
  users: [alice]
  actions: [delete]
`),
  );
  assert.deepEqual(policy.allowedActions('alice', 'team/app', ['pull', 'push', 'delete']), ['pull', 'push', 'delete'], 'rules add up');
  assert.deepEqual(policy.allowedActions('alice', 'team/other', ['pull', 'push', 'delete']), ['pull', 'push']);
  assert.deepEqual(policy.allowedActions('bob', 'team/app', ['pull', 'push', 'delete']), ['pull'], '"*" is every user');
  assert.deepEqual(policy.allowedActions('bob', 'shared/x', ['pull', 'push']), ['pull']);
  assert.equal(policy.allows(undefined, 'team/app', 'pull'), false, '"*" is not anonymous callers');
  assert.equal(policy.allows(undefined, 'public/tool', 'pull'), true);
  assert.equal(policy.allows('alice', 'public/tool', 'pull'), false, 'anonymous rules are for anonymous callers only');
  assert.equal(policy.mayPullSomething(undefined), true);
  assert.equal(policy.allows('bob', 'elsewhere/x', 'pull'), false);
});

test('without a file, authenticated users may do everything and anonymous callers nothing', () => {
  assert.deepEqual(AccessPolicy.DEFAULT.allowedActions('anyone', 'any/repo', ['pull', 'push', 'delete']), ['pull', 'push', 'delete']);
  assert.deepEqual(AccessPolicy.DEFAULT.allowedActions(undefined, 'any/repo', ['pull', 'push', 'delete']), []);
  assert.equal(AccessPolicy.DEFAULT.mayPullSomething(undefined), false);
  assert.equal(AccessPolicy.DEFAULT.mayPullSomething('anyone'), true);
});

test('an anonymous caller that no rule names may pull nothing', async (t) => {
  const policy = AccessPolicy.load(await policyFile(t, '- {repos: ["**"], users: [alice], actions: [pull]}\n'));
  assert.equal(policy.mayPullSomething(undefined), false);
  assert.equal(policy.mayPullSomething('bob'), false);
  assert.equal(policy.mayPullSomething('alice'), true);
});

test('bad policy files are refused with one line naming the rule', async (t) => {
  const cases: [string, RegExp][] = [
    ['repos: [a]\n', /must be a list of rules/],
    ['- {repos: [a], users: [b], actions: [pull, write]}\n', /rule 1: unknown action "write" \(use pull, push, delete\)/],
    ['- {repos: [a], users: [b], actions: [pull]}\n- {repos: [a], users: [b], action: [pull]}\n', /rule 2: unknown key "action"/],
    ['- {repos: [], users: [b], actions: [pull]}\n', /rule 1: repos must be a non-empty list of names/],
    ['- {repos: [a], actions: [pull]}\n', /rule 1: users must be a non-empty list of names/],
    ['- {repos: ["Team/App"], users: [b], actions: [pull]}\n', /rule 1: repos: "Team\/App" is not a repository glob/],
    ['- just a string\n', /rule 1: must be a mapping/],
    ['- {repos: [a\n', /not valid YAML/],
  ];
  for (const [text, pattern] of cases) {
    const path = await policyFile(t, text);
    assert.throws(
      () => AccessPolicy.load(path),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`--access ${path}: `) && pattern.test(error.message) && !error.message.includes('\n'),
      text,
    );
  }
});
