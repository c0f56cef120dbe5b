// The build server end to end: the compiled CLI starts `wharf build-server` on demand, hands it
// later builds over its socket, and they behave as builds in the client's own process: same image,
// output, exit codes, working directory, environment and umask; Ctrl-C stops them cleanly.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { isAlive } from '../../builder/build-root.js';
import { tempDir } from '../support/temp-dir.js';
import { cleanEnv, runningBuildServer, runWharf, snapshotWharf, WHARF_BIN, type CommandResult } from '../support/wharf-process.js';

const unavailable = await runUnavailableReason();
if (unavailable) console.log(`# skipping build server tests: ${unavailable}`);

async function runUnavailableReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'RUN needs root';
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\toverlay$/m.test(filesystems)) return 'the kernel has no overlayfs';
  if (spawnSync('runc', ['--version']).status !== 0) return 'no runc';
  return undefined;
}

const BUSYBOX = '/bin/busybox';

/** A RUN-only Dockerfile on a FROM scratch image holding busybox: no base image, no registry. */
const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
ARG FROM_ENV
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /data && /bin/busybox echo \\"$FROM_ENV\\" > /data/arg"]
RUN --mount=type=secret,id=token ["/bin/busybox", "sh", "-c", "test \\"$(/bin/busybox cat /run/secrets/token)\\" = open-sesame || exit 7"]
`;

/** A Dockerfile with no RUN, for the builds that only start a server. */
const QUICK = 'Dockerfile.quick';

/** A build server of its own (directory, idle time) and a build context, for one test. */
interface ServerFixture {
  readonly dir: string;
  readonly context: string;
  readonly root: string;
  readonly env: Record<string, string>;
}

async function serverFixture(t: TestContext, extraEnv: Record<string, string> = {}): Promise<ServerFixture> {
  const base = await tempDir(t, 'wharf-build-server-');
  const dir = join(base, 'server');
  const context = join(base, 'context');
  await mkdir(context);
  await copyFile(BUSYBOX, join(context, 'busybox'));
  await writeFile(join(context, 'Dockerfile'), DOCKERFILE);
  await writeFile(join(context, QUICK), 'FROM scratch\nCOPY busybox /bin/busybox\n');
  const env = { WHARF_BUILD_SERVER_DIR: dir, WHARF_BUILD_SERVER_IDLE: '60', SECRET_TOKEN: 'open-sesame', FROM_ENV: 'from the environment', ...extraEnv };
  const fixture = { dir, context, root: join(base, 'root'), env };
  t.after(() => stopServer(fixture));
  return fixture;
}

/** `wharf build` with the fixture's settings, in `cwd` (the context by default). */
function build(fixture: ServerFixture, args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CommandResult> {
  const fixed = ['build', '--root', fixture.root, '--network', 'none', '--secret', 'id=token,env=SECRET_TOKEN', '--build-arg', 'FROM_ENV'];
  return runWharf([...fixed, ...args], { cwd: options.cwd ?? fixture.context, env: { ...fixture.env, ...options.env }, timeoutMs: 120_000 });
}

async function serverFile(fixture: ServerFixture, extension: string): Promise<string | undefined> {
  const name = (await readdir(fixture.dir).catch(() => [] as string[])).find((file) => file.endsWith(extension));
  return name === undefined ? undefined : join(fixture.dir, name);
}

/** The pid of the fixture's running server, once it has written it (the first build starts it in the background). */
async function serverPid(fixture: ServerFixture): Promise<number> {
  for (let waited = 0; waited < 20_000; waited += 50) {
    const pid = runningBuildServer(fixture.dir);
    if (pid !== undefined) return pid;
    await delay(50);
  }
  throw new Error(`no build server wrote its pid in ${fixture.dir}`);
}

async function serverLog(fixture: ServerFixture): Promise<string> {
  const file = await serverFile(fixture, '.log');
  return file === undefined ? '' : readFile(file, 'utf8');
}

async function waitForExit(pid: number, what: string): Promise<void> {
  for (let waited = 0; isAlive(pid); waited += 50) {
    if (waited > 10_000) throw new Error(`${what}: process ${pid} still runs`);
    await delay(50);
  }
}

async function stopServer(fixture: ServerFixture): Promise<void> {
  const pid = runningBuildServer(fixture.dir);
  if (pid !== undefined) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 'the build server after SIGKILL');
  }
}

/** Progress with its timings and step numbers of runs removed, for comparing two builds' output. */
function withoutTimings(output: string): string {
  return output.replace(/\d+\.\d+s/g, 'T').replace(/^#\d+ \d+\.\d+ /gm, '#N ');
}

function assertSucceeded(result: CommandResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (code ${result.code}, signal ${result.signal})\n${result.stderr}`);
}

describe('wharf build-server', { skip: unavailable ?? false }, () => {
  test('the first build starts a server; the next run on it and build what an in-process build does', async (t) => {
    const fixture = await serverFixture(t);
    const first = await build(fixture, ['--iidfile', 'iid-1', '.']);
    assertSucceeded(first, 'the first build');
    const pid = await serverPid(fixture);
    const second = await build(fixture, ['--iidfile', 'iid-2', '--progress', 'plain', '.']);
    assertSucceeded(second, 'the second build');
    assert.match(await serverLog(fixture), /^build 1 in .*: exit 0/m, 'the server ran the second build');
    const [iid1, iid2] = await Promise.all(['iid-1', 'iid-2'].map((name) => readFile(join(fixture.context, name), 'utf8')));
    assert.equal(iid2, iid1, 'same image ID');
    assert.match(second.stderr, /CACHED/, 'the served build took its steps from the cache');
    const inProcess = await build(fixture, ['--progress', 'plain', '.'], { env: { WHARF_BUILD_SERVER_IDLE: '0' } });
    assertSucceeded(inProcess, 'the in-process build');
    assert.equal(withoutTimings(second.stderr), withoutTimings(inProcess.stderr), 'the same progress');
    assert.equal(second.stdout, `writing image ${iid1}\n`);
    assert.equal(inProcess.stdout, second.stdout);
    assert.ok(isAlive(pid), 'the server waits for more builds');
  });

  test("a served build has the client's working directory, environment and umask", async (t) => {
    const fixture = await serverFixture(t);
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build that starts the server');
    await serverPid(fixture);
    const elsewhere = join(fixture.context, '..');
    await mkdir(join(elsewhere, 'out'));
    const umask = process.umask(0o077);
    let result: CommandResult;
    try {
      result = await build(fixture, ['--no-cache', '-f', 'context/Dockerfile', '--iidfile', 'out/iid', '-o', 'type=docker,dest=out/image.tar', 'context'], { cwd: elsewhere });
    } finally {
      process.umask(umask);
    }
    assertSucceeded(result, 'the build from the parent directory');
    assert.match(await serverLog(fixture), new RegExp(`^build 1 in ${elsewhere}: exit 0`, 'm'));
    assert.equal((await stat(join(elsewhere, 'out', 'image.tar'))).mode & 0o777, 0o600, "the archive was made under the client's umask");
    // The secret comes from the client's environment: a wrong one fails the RUN that checks it.
    const wrong = await build(fixture, ['--no-cache', '.'], { env: { SECRET_TOKEN: 'wrong' } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /exit code: 7/);
  });

  test('usage errors, --help and failed builds exit as in-process ones, with the same message', async (t) => {
    const fixture = await serverFixture(t);
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build that starts the server');
    await serverPid(fixture);
    const cases: [args: string[], code: number][] = [
      [['--bogus', '.'], 2],
      [['--help'], 0],
      [['-f', 'missing/Dockerfile', '.'], 1],
    ];
    for (const [args, code] of cases) {
      const served = await build(fixture, args);
      const inProcess = await build(fixture, args, { env: { WHARF_BUILD_SERVER_IDLE: '0' } });
      assert.equal(served.code, code, `wharf build ${args.join(' ')}`);
      assert.deepEqual({ ...served, stderr: withoutTimings(served.stderr) }, { ...inProcess, stderr: withoutTimings(inProcess.stderr) }, `wharf build ${args.join(' ')}`);
    }
    assert.match(await serverLog(fixture), /^build 3 in .*: exit 1/m, 'the server ran them');
  });

  test('Ctrl-C stops the served build: its container, mounts and temporaries are gone, and so is the server', async (t) => {
    const fixture = await serverFixture(t);
    await writeFile(join(fixture.context, 'Dockerfile'), `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo started; /bin/busybox sleep 60"]\n`);
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build that starts the server');
    const pid = await serverPid(fixture);
    const child = spawn(process.execPath, [WHARF_BIN, 'build', '--root', fixture.root, '--network', 'none', '--progress', 'plain', '.'], { cwd: fixture.context, env: cleanEnv(fixture.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('started')) resolve();
      }),
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.match(stderr, /wharf build: interrupted by SIGINT$/m);
    await waitForExit(pid, 'the server after its build was interrupted');
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(fixture.root), `nothing stays mounted under the build root:\n${mounts}`);
    assert.ok(!spawnSync('ps', ['-eo', 'args']).stdout.toString().includes('busybox sleep 60'), 'the container was killed');
    for (const temporary of ['tmp', 'rootfs']) {
      const left = (await readdir(join(fixture.root, temporary)).catch(() => [] as string[])).filter((name) => name.startsWith(`${pid}-`));
      assert.deepEqual(left, [], `no temporaries of the server in ${temporary}/`);
    }
    assert.equal(await serverFile(fixture, '.sock'), undefined, 'the socket is removed');
    // The next build runs in its own process and starts a new server.
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build after');
    assert.notEqual(await serverPid(fixture), pid);
  });

  test('a build that finds the server busy runs in its own process', async (t) => {
    const fixture = await serverFixture(t);
    await writeFile(join(fixture.context, 'Dockerfile'), `FROM scratch\nCOPY busybox /bin/busybox\nARG PAUSE\nRUN ["/bin/busybox", "sleep", "2"]\n`);
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build that starts the server');
    await serverPid(fixture);
    const both = await Promise.all([build(fixture, ['-q', '--no-cache', '.']), delay(300).then(() => build(fixture, ['-q', '--no-cache', '.']))]);
    for (const result of both) assertSucceeded(result, 'a concurrent build');
    assert.match(await serverLog(fixture), /^build 1 in/m);
    assert.doesNotMatch(await serverLog(fixture), /^build 2 in/m, 'the server ran one of the two');
  });

  test('the server exits when idle, removing its socket and pid file', async (t) => {
    const fixture = await serverFixture(t, { WHARF_BUILD_SERVER_IDLE: '1' });
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build that starts the server');
    const pid = await serverPid(fixture);
    await waitForExit(pid, 'an idle server');
    assert.match(await serverLog(fixture), /exiting: idle$/m);
    assert.equal(await serverFile(fixture, '.sock'), undefined, 'the socket is removed');
    assert.equal(await serverFile(fixture, '.pid'), undefined, 'the pid file is removed');
  });

  test('the server exits when wharf is rebuilt under it; the next build starts one of the new build', async (t) => {
    const fixture = await serverFixture(t);
    const bin = await snapshotWharf(join(fixture.context, '..', 'installation'));
    const wharf = (args: string[]) => runWharf(['build', '--root', fixture.root, ...args], { env: fixture.env, bin });
    assertSucceeded(await wharf(['-q', '-f', join(fixture.context, QUICK), fixture.context]), 'the build that starts the server');
    const pid = await serverPid(fixture);
    const now = new Date();
    await utimes(join(dirname(bin), '..', 'builder', 'server', 'server-address.js'), now, now);
    await waitForExit(pid, 'the server of the old build');
    assert.match(await serverLog(fixture), /exiting: wharf was rebuilt or reinstalled$/m);
    assertSucceeded(await wharf(['-q', '-f', join(fixture.context, QUICK), fixture.context]), 'a build of the new one');
    assert.notEqual(await serverPid(fixture), pid);
  });

  test('WHARF_BUILD_SERVER_IDLE=0 builds in-process and starts no server', async (t) => {
    const fixture = await serverFixture(t, { WHARF_BUILD_SERVER_IDLE: '0' });
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build');
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the second build');
    assert.deepEqual(await readdir(fixture.dir).catch(() => []), []);
  });

  test('a socket directory others can enter is not used', async (t) => {
    const fixture = await serverFixture(t);
    await mkdir(fixture.dir, { mode: 0o755 });
    assertSucceeded(await build(fixture, ['-q', '-f', QUICK, '.']), 'the build');
    assert.deepEqual(await readdir(fixture.dir), []);
    const server = await runWharf(['build-server'], { env: fixture.env });
    assert.equal(server.code, 2);
    assert.match(server.stderr, /^wharf build-server: .*no private directory/);
  });
});
