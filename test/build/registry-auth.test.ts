// `wharf build` against a registry that wants credentials over verified TLS: CNCF distribution 2.8
// with htpasswd users (real `htpasswd -B`) and a certificate from a CA made by openssl, on a
// non-loopback address so that the certificate is checked. Credentials come from a Docker config's
// credHelpers, credsStore (real docker-credential-* scripts on PATH) or auths; the CA from a certs.d
// folder (WHARF_CERTS_D) or --registry-ca. FROM scratch and FROM an image on that registry: no docker engine.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, run } from '../e2e/harness.js';
import { writeCredentialHelper, type TestCredentialHelper } from '../support/credential-helper.js';
import { nonLoopbackAddress, securedDistributionSkip, startSecuredDistribution, writeCertsDirectory, type SecuredDistribution } from '../support/secured-distribution.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';
import { runWharf, type CommandResult } from '../support/wharf-process.js';
import { assertBuilt, buildArgs, fixture, stepOutcomes } from './build-harness.js';

const USER = 'builder';
const PASSWORD = 'correct horse';
const address = nonLoopbackAddress();
const skip = await securedDistributionSkip('htpasswd');
if (skip) console.log(`# skipping wharf build against an authenticated TLS registry: ${skip}`);

describe('wharf build against a registry with htpasswd and TLS', { skip }, () => {
  let dir: string;
  let pki: TestPki;
  let registry: SecuredDistribution;
  /** A certs.d holding the registry's CA, and one holding nothing. */
  let certs: string;
  let noCerts: string;
  /** Where the docker-credential-* scripts are; put first on PATH. */
  let bin: string;
  let helper: TestCredentialHelper;
  /** An image on the registry that later builds start FROM (pulled with credentials). */
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-build-auth-'));
    pki = await makeTestPki(dir, { ips: [address!] });
    registry = await startSecuredDistribution({ dir: join(dir, 'registry'), address: address!, pki, users: { [USER]: PASSWORD } });
    certs = await writeCertsDirectory(join(dir, 'certs.d'), registry.host, { 'ca.crt': pki.caCert });
    noCerts = join(dir, 'no-certs.d');
    bin = join(dir, 'bin');
    await mkdir(bin);
    helper = await writeCredentialHelper(bin, 'wharftest', { credentials: { [registry.host]: { username: USER, secret: PASSWORD } } });
    await writeCredentialHelper(bin, 'wharfempty', { credentials: {} });

    base = `${registry.host}/base/files:1`;
    assertBuilt(await build({ auths: { [registry.host]: { auth: basic(USER, PASSWORD) } } }, ['--push', '-t', base, ...buildArgs({ BASE: 'scratch' })]), 'of the base image');
  });

  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

  /**
   * Runs `wharf build ARGS fixtures/build/cache` with a fresh root, the Docker config `config`, the
   * helpers on PATH and the certs.d holding the CA (or `certsDirectory`); quietly unless `progress`.
   */
  async function build(config: object, args: readonly string[], { certsDirectory = certs, progress = false } = {}): Promise<CommandResult> {
    const work = await mkdtemp(join(dir, 'build-'));
    await writeFile(join(work, 'config.json'), JSON.stringify(config));
    return runWharf(['build', '--root', join(work, 'root'), ...(progress ? ['--progress', 'plain'] : ['-q']), ...args, fixture('cache')], {
      env: { DOCKER_CONFIG: work, WHARF_CERTS_D: certsDirectory, PATH: `${bin}${delimiter}${process.env.PATH}` },
      // These builds take about a second; a failed one must exit at once, not hold a connection open.
      timeoutMs: 30_000,
    });
  }

  /** The digest of `ref`'s manifest as skopeo reads it, with the user's credentials and the CA. */
  async function pushedDigest(ref: string): Promise<string> {
    const { stdout } = await run('skopeo', ['inspect', '--creds', `${USER}:${PASSWORD}`, '--cert-dir', join(certs, registry.host), `docker://${ref}`]);
    return (JSON.parse(stdout) as { Digest: string }).Digest;
  }

  /** Builds FROM the base with `config` and pushes to `ref`; checks that the registry holds what was built. */
  async function pushFromBase(config: object, ref: string, extra: readonly string[] = []): Promise<void> {
    const metadata = join(await mkdtemp(join(dir, 'metadata-')), 'metadata.json');
    assertBuilt(await build(config, ['--push', '-t', ref, '--metadata-file', metadata, ...buildArgs({ BASE: base }), ...extra]), `pushing ${ref}`);
    const built = (JSON.parse(await readFile(metadata, 'utf8')) as Record<string, string>)['containerimage.digest'];
    if (await hasCommand('skopeo')) assert.equal(await pushedDigest(ref), built);
  }

  /** Asserts that a build failed with exit 1 and printed exactly `expected` (one line) on stderr. */
  function assertOneLineFailure(result: CommandResult, expected: RegExp): void {
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.split('\n').length, 2, `one line:\n${result.stderr}`);
    assert.match(result.stderr, expected);
  }

  test('credHelpers: pulls the base and pushes with the registry\'s helper, asked once for the whole build', async () => {
    const calls = (await helper.calls()).length;
    await pushFromBase({ credHelpers: { [registry.host]: 'wharftest' } }, `${registry.host}/app/helpers:1`);
    assert.deepEqual((await helper.calls()).slice(calls), [registry.host]);
  });

  test('credsStore: the default helper serves the registry', async () => {
    await pushFromBase({ credsStore: 'wharftest' }, `${registry.host}/app/store:1`);
  });

  test('auths: a registry with no helper uses its entry', async () => {
    await pushFromBase({ auths: { [`https://${registry.host}`]: { auth: basic(USER, PASSWORD) } }, credHelpers: { 'other.example.com': 'wharfempty' } }, `${registry.host}/app/auths:1`);
  });

  test('a wrong password fails the build with one line naming where it came from', async () => {
    const ref = `${registry.host}/app/wrong:1`;
    const result = await build({ auths: { [registry.host]: { auth: basic(USER, 'wrong') } } }, ['--push', '-t', ref, ...buildArgs({ BASE: 'scratch' })]);
    assertOneLineFailure(result, new RegExp(`^wharf build: ${registry.host} refused the credentials from .*/config\\.json: HEAD https://${registry.host}/v2/app/wrong/blobs/sha256:[0-9a-f]{64}: 401 unauthorized\\n$`));
  });

  test('a helper without credentials for the registry fails the build with one line naming it', async () => {
    const result = await build({ credHelpers: { [registry.host]: 'wharfempty' } }, ['--push', '-t', `${registry.host}/app/none:1`, ...buildArgs({ BASE: 'scratch' })]);
    assertOneLineFailure(
      result,
      new RegExp(`^wharf build: ${registry.host} requires authentication and credential helper docker-credential-wharfempty has no usable credentials for it \\(docker login ${registry.host}\\)\\n$`),
    );
  });

  test('without the registry\'s CA the build fails with one line saying how to trust it', async () => {
    const result = await build({ credsStore: 'wharftest' }, ['--push', '-t', `${registry.host}/app/untrusted:1`, ...buildArgs({ BASE: 'scratch' })], { certsDirectory: noCerts });
    assertOneLineFailure(result, new RegExp(`^wharf build: https://${registry.host}/v2/: the registry's certificate is not trusted \\(unable to get local issuer certificate\\): add its CA as ${join(noCerts, registry.host, 'ca.crt')} or with --registry-ca FILE, or pass --insecure-registry ${registry.host}\\n$`));
  });

  test('--registry-ca trusts the CA for the build without a certs.d folder', async () => {
    const result = await build({ credsStore: 'wharftest' }, ['--registry-ca', pki.caCert, '--push', '-t', `${registry.host}/app/cafile:1`, ...buildArgs({ BASE: base })], { certsDirectory: noCerts });
    assertBuilt(result, 'with --registry-ca');
  });

  test('--cache-to and --cache-from type=registry go through the same credentials and TLS', async () => {
    const ref = `${registry.host}/cache/app:main`;
    const config = { credsStore: 'wharftest' };
    assertBuilt(await build(config, ['--cache-to', `type=registry,ref=${ref}`, ...buildArgs({ BASE: base })]), 'exporting the cache');
    const reused = assertBuilt(await build(config, ['--cache-from', `type=registry,ref=${ref}`, ...buildArgs({ BASE: base })], { progress: true }), 'importing the cache');
    const steps = stepOutcomes(reused.stderr).filter((step) => !/\] FROM /.test(step.name));
    assert.ok(steps.length > 0 && steps.every((step) => step.outcome === 'CACHED'), reused.stderr);
  });
});
