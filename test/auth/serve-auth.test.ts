// `wharf serve` with authentication, as a process: files it cannot use stop it at start with one
// line, and in token mode its generated signing key outlives a restart.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCommand } from '../e2e/harness.js';
import { writeHtpasswd } from '../support/htpasswd-file.js';
import { tempDir } from '../support/temp-dir.js';
import { assertServeRefuses, startWharf } from '../support/wharf-process.js';

const skip = (await hasCommand('htpasswd')) ? false : 'htpasswd (apache2-utils) not installed';

test('authentication files it cannot use stop wharf serve with one line naming the setting', { skip }, async (t) => {
  const dir = await tempDir(t);
  const good = join(dir, 'htpasswd');
  await writeHtpasswd(good, { alice: 'a' });
  const md5 = join(dir, 'md5.htpasswd');
  await writeFile(md5, 'bob:$apr1$abcdefgh$0123456789abcdefghijkl\n');
  const policy = join(dir, 'access.yaml');
  await writeFile(policy, '- {repos: ["**"], users: [alice], actions: [pull, write]}\n');
  const cases: [string[], RegExp][] = [
    [['--auth', 'basic'], /^wharf serve: --auth: basic needs --htpasswd FILE/],
    [['--htpasswd', md5], /^wharf serve: --htpasswd .*md5\.htpasswd line 1: user "bob" has an MD5 \(apr1\) hash; only bcrypt entries are supported/],
    [['--htpasswd', join(dir, 'absent')], /^wharf serve: --htpasswd .*absent: no such file$/],
    [['--htpasswd', good, '--access', policy], /^wharf serve: --access .*access\.yaml: rule 1: unknown action "write"/],
    [['--auth', 'token', '--token-key', join(dir, 'absent.pem')], /^wharf serve: --token-key .*absent\.pem: no such file$/],
    [['--auth', 'token', '--token-key', good], /^wharf serve: --token-key .*htpasswd: not a PEM private key$/],
  ];
  await assertServeRefuses(cases);
});

test('token mode makes its signing key once, in the storage directory, and tokens outlive a restart', { skip }, async (t) => {
  const dir = await tempDir(t);
  await writeHtpasswd(join(dir, 'htpasswd'), { alice: 'alice-pw' });
  const storage = await tempDir(t, 'wharf-storage-');
  const args = ['--auth', 'token', '--htpasswd', join(dir, 'htpasswd')];
  const first = await startWharf({ t, storage, args });
  const login = await fetch(`${first.url}/auth/token?service=wharf&offline_token=true`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` } });
  assert.equal(login.status, 200);
  const { token, refresh_token: refresh } = (await login.json()) as { token: string; refresh_token: string };
  assert.equal((await fetch(`${first.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  assert.equal((await first.stop()).code, 0);
  assert.equal((await stat(join(storage, 'token-key.pem'))).mode & 0o777, 0o600);

  const second = await startWharf({ t, storage, args });
  assert.equal((await fetch(`${second.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status, 200, 'the access token is still valid');
  const refreshed = await fetch(`${second.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${refresh}&service=wharf` });
  assert.equal(refreshed.status, 200, 'so is the identity token docker login stored');
  await second.stop();
});
