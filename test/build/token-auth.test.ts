// `wharf build --push` against `wharf serve --auth token`: the builder's registry client follows the
// Bearer challenge to the registry's own token server with the credentials of a Docker config's
// auths entry, and a read-only user's push is refused in one line. FROM scratch: no docker engine.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand } from '../e2e/harness.js';
import { writeHtpasswd } from '../support/htpasswd-file.js';
import { startWharf, runWharf, type CommandResult, type WharfProcess } from '../support/wharf-process.js';
import { assertBuilt, buildArgs, fixture } from './build-harness.js';

const skip = (await hasCommand('htpasswd')) ? false : 'htpasswd (apache2-utils) not installed';
const PASSWORDS = { builder: 'builder pw', reader: 'reader pw' };

describe('wharf build --push against wharf serve --auth token', { skip }, () => {
  let dir: string;
  let server: WharfProcess;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-build-token-'));
    await writeHtpasswd(join(dir, 'htpasswd'), PASSWORDS);
    await writeFile(join(dir, 'access.yaml'), '- {repos: ["**"], users: [builder], actions: [pull, push]}\n- {repos: ["**"], users: [reader], actions: [pull]}\n');
    server = await startWharf({ storage: join(dir, 'storage'), args: ['--auth', 'token', '--htpasswd', join(dir, 'htpasswd'), '--access', join(dir, 'access.yaml')] });
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** `wharf build --push -t REF` of fixtures/build/cache FROM scratch, as `user` (an auths entry in DOCKER_CONFIG) or with no credentials. */
  async function buildAs(user: keyof typeof PASSWORDS | undefined, ref: string, metadata?: string): Promise<CommandResult> {
    const work = await mkdtemp(join(dir, 'build-'));
    const auths = user === undefined ? {} : { [server.host]: { auth: Buffer.from(`${user}:${PASSWORDS[user]}`).toString('base64') } };
    await writeFile(join(work, 'config.json'), JSON.stringify({ auths }));
    const args = ['build', '--root', join(work, 'root'), '-q', '--push', '-t', ref, ...(metadata ? ['--metadata-file', metadata] : []), ...buildArgs({ BASE: 'scratch' }), fixture('cache')];
    return runWharf(args, { env: { DOCKER_CONFIG: work }, timeoutMs: 30_000 });
  }

  test('pushes with a token for the auths entry\'s user', async () => {
    const metadata = join(dir, 'metadata.json');
    assertBuilt(await buildAs('builder', `${server.host}/team/built:1`, metadata), 'as builder');
    const built = (JSON.parse(await readFile(metadata, 'utf8')) as Record<string, string>)['containerimage.digest'];
    // The registry holds it: read back with a pull token of the read-only user.
    const token = await fetch(`${server.url}/auth/token?service=wharf&scope=repository:team/built:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`reader:${PASSWORDS.reader}`).toString('base64')}` },
    });
    const { token: pullToken } = (await token.json()) as { token: string };
    const manifest = await fetch(`${server.url}/v2/team/built/manifests/1`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${pullToken}`, accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), built);
  });

  test('a read-only user\'s push fails in one line', async () => {
    const result = await buildAs('reader', `${server.host}/team/denied:1`);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.split('\n').length, 2, `one line:\n${result.stderr}`);
    assert.match(result.stderr, /^wharf build: .*(denied|403)/);
  });

  test('without credentials the push fails in one line saying to log in', async () => {
    const result = await buildAs(undefined, `${server.host}/team/anonymous:1`);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^wharf build: ${server.host} requires authentication and .*config\\.json has no usable credentials for it \\(docker login ${server.host}\\)\\n$`));
  });
});
