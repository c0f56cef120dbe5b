// The docker engine against a real `wharf serve` with htpasswd users and an access policy, in basic
// and token modes: docker login (right and wrong password), push, pull, a denied push, docker search.
// Each user has its own DOCKER_CONFIG folder, so the machine's docker credentials are never touched.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeHtpasswd } from '../support/htpasswd-file.js';
import { CommandError, docker, dockerUnavailableReason, hasCommand, importBusyboxImage, startRegistry, testImage, withServerLogs, type RunningRegistry } from './harness.js';

const unavailable = (await dockerUnavailableReason()) ?? ((await hasCommand('htpasswd')) ? undefined : 'htpasswd (apache2-utils) not installed');
if (unavailable) console.log(`# skipping docker authentication end-to-end tests: ${unavailable}`);

const USERS = { alice: 'alice-e2e-secret', reader: 'reader-e2e-secret' } as const;
const POLICY = `
- repos: ["**"]
  users: [alice]
  actions: [pull, push, delete]
- repos: ["team/*"]
  users: [reader]
  actions: [pull]
`;

for (const mode of ['basic', 'token'] as const) {
  describe(`docker engine against wharf serve --auth ${mode}`, { skip: unavailable ?? false }, () => {
    let dir: string;
    let registry: RunningRegistry;
    const localRefs = new Set<string>();

    before(async () => {
      await testImage();
      dir = await mkdtemp(join(tmpdir(), `wharf-e2e-auth-${mode}-`));
      await writeHtpasswd(join(dir, 'htpasswd'), USERS);
      await writeFile(join(dir, 'access.yaml'), POLICY);
      registry = await startRegistry({ args: ['--auth', mode, '--htpasswd', join(dir, 'htpasswd'), '--access', join(dir, 'access.yaml')] });
    });

    after(async () => {
      for (const ref of localRefs) await docker(['rmi', '-f', ref]).catch(() => {});
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /** The docker CLI with `user`'s own config folder (none logged in for undefined). */
    function dockerAs(user: keyof typeof USERS | 'anonymous', args: string[], input?: string) {
      return docker(args, { env: { DOCKER_CONFIG: join(dir, `docker-${user}`) }, ...(input === undefined ? {} : { input }) });
    }

    async function login(user: keyof typeof USERS, password: string = USERS[user]) {
      return dockerAs(user, ['login', '--username', user, '--password-stdin', registry.host], `${password}\n`);
    }

    async function failure(run: Promise<unknown>): Promise<string> {
      const error = await run.then(
        () => assert.fail('the command succeeded'),
        (error: unknown) => error,
      );
      assert.ok(error instanceof CommandError, String(error));
      return `${error.stderr}\n${error.stdout}`;
    }

    test('docker login fails with a wrong password and succeeds with the right one', async () => {
      await withServerLogs(registry, async () => {
        assert.match(await failure(login('alice', 'not-the-password')), /unauthorized|401/i);
        assert.match((await login('alice')).stdout, /Login Succeeded/);
        await login('reader');
        const config = JSON.parse(await readFile(join(dir, 'docker-alice', 'config.json'), 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> };
        const entry = config.auths[registry.host]!;
        // In token mode docker keeps the refresh token the registry issued, not the password.
        if (mode === 'token') {
          assert.ok(entry.identitytoken, JSON.stringify(entry));
          assert.doesNotMatch(Buffer.from(entry.auth ?? '', 'base64').toString(), /alice-e2e-secret/);
        } else {
          assert.equal(Buffer.from(entry.auth!, 'base64').toString(), `alice:${USERS.alice}`);
        }
      });
    });

    test('alice pushes, reader pulls, reader may not push, anonymous may not pull', async () => {
      await withServerLogs(registry, async () => {
        await login('alice');
        await login('reader');
        const ref = `${registry.host}/team/app:${mode}`;
        await importBusyboxImage(ref, { 'etc/wharf-auth': `${mode}\n` });
        localRefs.add(ref);
        await dockerAs('alice', ['push', ref]);
        await docker(['rmi', ref]);
        await dockerAs('reader', ['pull', ref]);
        assert.equal((await docker(['run', '--rm', '--network', 'none', ref, 'cat', '/etc/wharf-auth'])).stdout, `${mode}\n`);

        const readerRef = `${registry.host}/team/from-reader:${mode}`;
        await docker(['tag', ref, readerRef]);
        localRefs.add(readerRef);
        assert.match(await failure(dockerAs('reader', ['push', readerRef])), /denied/i);
        assert.match(await failure(dockerAs('anonymous', ['pull', ref])), /unauthorized|no basic auth credentials|denied|authentication required/i);
      });
    });

    test('docker search by a logged-in user lists what that user may pull', async () => {
      await withServerLogs(registry, async () => {
        await login('alice');
        await login('reader');
        const privateRef = `${registry.host}/private/findme-${mode}:1`;
        await importBusyboxImage(privateRef, { 'etc/wharf-auth': 'private\n' });
        localRefs.add(privateRef);
        await dockerAs('alice', ['push', privateRef]);
        const ref = `${registry.host}/team/findme-${mode}:1`;
        await importBusyboxImage(ref, { 'etc/wharf-auth': 'search\n' });
        localRefs.add(ref);
        await dockerAs('alice', ['push', ref]);

        // The search index takes the pushes in the background: wait until alice's search finds both.
        const names = async (user: keyof typeof USERS) =>
          (await dockerAs(user, ['search', '--format', '{{.Name}}', `${registry.host}/findme`])).stdout.split('\n').filter(Boolean).sort();
        const deadline = Date.now() + 10_000;
        while ((await names('alice')).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(await names('alice'), [`private/findme-${mode}`, `team/findme-${mode}`]);
        assert.deepEqual(await names('reader'), [`team/findme-${mode}`]);
      });
    });
  });
}
