// runContainer against the real runc (/usr/sbin/runc), over a busybox root filesystem. Needs root.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { SourceTree } from '../../builder/context/build-context.js';
import { resolveContainerUser, ROOT_USER } from '../../builder/runtime/container-user.js';
import { containerHosts, containerResolvConf } from '../../builder/runtime/network-files.js';
import { ociSpec, type ContainerProcess } from '../../builder/runtime/oci-spec.js';
import { openFilesLimit } from '../../builder/runtime/open-files-limit.js';
import { ContainerRuntimeError, removeStaleContainers, runContainer, type RunContainerOptions } from '../../builder/runtime/run-container.js';
import { tempDir } from '../support/temp-dir.js';
import { busyboxRootfs } from './busybox-rootfs.js';

const execFileAsync = promisify(execFile);

/** Docker's default capability set as /proc/PID/status prints it. */
const DEFAULT_CAPS_HEX = '00000000a80425fb';

/** Above Linux's largest pid_max, so never a live process. */
const DEAD_PID = 2 ** 22 + 12345;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Everything a test container needs; `overrides` replace any of it. */
async function options(t: TestContext, overrides: Partial<RunContainerOptions> = {}): Promise<RunContainerOptions> {
  return {
    rootfs: overrides.rootfs ?? (await busyboxRootfs(t)),
    stateDir: overrides.stateDir ?? (await tempDir(t, 'wharf-state-')),
    args: ['true'],
    env: ['PATH=/bin'],
    cwd: '/',
    user: ROOT_USER,
    network: 'none',
    ...overrides,
  };
}

/** Runs a shell command in a fresh container and collects its output. */
async function run(t: TestContext, script: string, overrides: Partial<RunContainerOptions> = {}): Promise<Outcome> {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const code = await runContainer({ ...(await options(t, overrides)), args: ['sh', '-c', script], onOutput: (chunk, stream) => chunks[stream].push(chunk) });
  return { code, stdout: Buffer.concat(chunks.stdout).toString(), stderr: Buffer.concat(chunks.stderr).toString() };
}

/** The containers and bundles the state directory still holds. */
async function leftovers(stateDir: string): Promise<string[]> {
  const list = async (dir: string) => (await readdir(join(stateDir, dir)).catch(() => [])).map((name) => `${dir}/${name}`);
  return [...(await list('runc')), ...(await list('bundles'))];
}

test('the exit code is the command\'s', async (t) => {
  assert.equal((await run(t, 'exit 0')).code, 0);
  assert.equal((await run(t, 'exit 3')).code, 3);
});

test('a command killed by a signal exits 128+n', async (t) => {
  // The kernel's SIGKILL at the CPU time limit: a container's init ignores signals sent from inside it.
  assert.equal((await run(t, 'ulimit -t 1; while :; do :; done')).code, 137);
});

test('output is streamed as it arrives, each stream in order', async (t) => {
  const events: string[] = [];
  let firstAt = 0;
  const started = Date.now();
  const code = await runContainer({
    ...(await options(t)),
    args: ['sh', '-c', 'echo one; sleep 0.4; echo two >&2; sleep 0.4; echo three; sleep 0.4; echo four >&2'],
    onOutput: (chunk, stream) => {
      firstAt ||= Date.now();
      for (const line of chunk.toString().split('\n').filter(Boolean)) events.push(`${stream}:${line}`);
    },
  });
  assert.equal(code, 0);
  // Lines apart in time arrive in order across the streams too (written back to back, they may not).
  assert.deepEqual(events, ['stdout:one', 'stderr:two', 'stdout:three', 'stderr:four']);
  assert.ok(Date.now() - firstAt >= 1100, 'the first line came before the command ended');
  assert.ok(firstAt - started < 5000);
});

test('env and cwd apply; a missing cwd is created and stays, as in BuildKit', async (t) => {
  const rootfs = await busyboxRootfs(t);
  const { code, stdout } = await run(t, 'pwd; env | grep -v ^PWD= | sort', { rootfs, env: ['PATH=/bin', 'GREETING=hello world'], cwd: '/work/src' });
  assert.equal(code, 0);
  // runc sets HOME from the image's /etc/passwd when the environment has none.
  assert.equal(stdout, '/work/src\nGREETING=hello world\nHOME=/root\nPATH=/bin\nSHLVL=1\n');
  assert.ok((await stat(join(rootfs, 'work', 'src'))).isDirectory());
});

test('the user and groups apply, as BuildKit shows them', async (t) => {
  const rootfs = await busyboxRootfs(t);
  const tree = SourceTree.rootfs(rootfs, { kind: 'image', name: 'busybox' });
  const as = async (user: string) => (await run(t, 'id; grep -E "^Cap(Prm|Eff)" /proc/self/status', { rootfs, user: await resolveContainerUser(user, (path) => tree.readFile(path)) })).stdout;
  const noCapabilities = 'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n';
  assert.equal(await as('app'), `uid=1000(app) gid=1000(app) groups=50(staff),63(audio)\n${noCapabilities}`);
  assert.equal(await as('1000:50'), `uid=1000(app) gid=50(staff)\n${noCapabilities}`);
  assert.equal(await as('4242'), `uid=4242 gid=0(root)\n${noCapabilities}`);
  assert.equal(await as(''), `uid=0(root) gid=0(root)\nCapPrm:\t${DEFAULT_CAPS_HEX}\nCapEff:\t${DEFAULT_CAPS_HEX}\n`);
});

test('root has Docker\'s default capabilities', async (t) => {
  const { stdout } = await run(t, 'grep ^Cap /proc/self/status');
  assert.equal(stdout, ['CapInh:\t0000000000000000', `CapPrm:\t${DEFAULT_CAPS_HEX}`, `CapEff:\t${DEFAULT_CAPS_HEX}`, `CapBnd:\t${DEFAULT_CAPS_HEX}`, 'CapAmb:\t0000000000000000', ''].join('\n'));
});

test('hostname, /etc/hosts and /etc/resolv.conf are BuildKit\'s, and leave no trace in the root filesystem', async (t) => {
  const rootfs = await busyboxRootfs(t);
  const { stdout } = await run(t, 'hostname; cat /etc/hosts; echo ---; cat /etc/resolv.conf; grep -E " /etc/(hosts|resolv.conf) " /proc/self/mountinfo | grep -c " ro,"', { rootfs });
  const resolvConf = containerResolvConf(await readFile('/etc/resolv.conf', 'utf8'), 'none');
  assert.equal(stdout, `buildkitsandbox\n${containerHosts()}---\n${resolvConf}2\n`);
  assert.equal(existsSync(join(rootfs, 'etc', 'hosts')), false);
  assert.equal(existsSync(join(rootfs, 'etc', 'resolv.conf')), false);
});

test('/proc is mounted and /sys is read-only', async (t) => {
  const { stdout } = await run(t, 'cat /proc/1/comm; awk \'$5 == "/sys" || $5 == "/proc" { print $5, $9, substr($6, 1, 2) }\' /proc/self/mountinfo; touch /sys/x 2>/dev/null || echo refused');
  assert.equal(stdout, 'sh\n/proc proc rw\n/sys sysfs ro\nrefused\n');
});

test('network none has loopback only, and up', async (t) => {
  const { stdout } = await run(t, 'grep : /proc/net/dev | cut -d: -f1 | tr -d " "; ls /sys/class/net; cat /sys/class/net/lo/flags');
  // 0x9: IFF_UP | IFF_LOOPBACK. runc brings lo up in a new network namespace, as BuildKit's none has it.
  assert.equal(stdout, 'lo\nlo\n0x9\n');
});

test('network host sees the host\'s interfaces', async (t) => {
  const interfaces = (netDev: string) =>
    netDev
      .split('\n')
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':')[0]!.trim())
      .sort();
  const { stdout } = await run(t, 'cat /proc/net/dev', { network: 'host' });
  const host = interfaces(await readFile('/proc/net/dev', 'utf8'));
  assert.ok(host.length > 1, 'the host has an interface besides lo');
  assert.deepEqual(interfaces(stdout), host);
});

test('an abort kills the container promptly and leaves no runtime state behind', async (t) => {
  const base = await options(t);
  const controller = new AbortController();
  const started = Date.now();
  const running = runContainer({
    ...base,
    args: ['sh', '-c', 'echo ready; sleep 100'],
    signal: controller.signal,
    onOutput: (chunk) => {
      if (chunk.toString().includes('ready')) controller.abort();
    },
  });
  await assert.rejects(running, { name: 'AbortError' });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.deepEqual(await leftovers(base.stateDir), []);
  assert.deepEqual(await listContainers(base.stateDir), []);
});

test('an abort right after the start still kills the container', async (t) => {
  const base = await options(t);
  for (const delayMs of [0, 5, 20, 50]) {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), delayMs);
    const outcome = await runContainer({ ...base, args: ['sleep', '100'], signal: controller.signal }).catch((error: Error) => error);
    assert.equal((outcome as Error).name, 'AbortError', `abort after ${delayMs} ms`);
    assert.deepEqual(await leftovers(base.stateDir), []);
  }
});

test('an aborted signal runs nothing', async (t) => {
  const base = await options(t);
  await assert.rejects(runContainer({ ...base, signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.deepEqual(await leftovers(base.stateDir), []);
});

test('two containers run at once, over one state directory', async (t) => {
  const stateDir = await tempDir(t, 'wharf-state-');
  const shared = await tempDir(t);
  const mounts = [{ type: 'bind', source: shared, destination: '/shared' }] as const;
  // Each waits (up to 10 s) for the other's file: both finish only if they run side by side.
  const meet = (me: string, other: string) => `touch /shared/${me}; i=0; while [ ! -e /shared/${other} ]; do i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05; done; echo ${me} met ${other}`;
  const [a, b] = await Promise.all([run(t, meet('a', 'b'), { stateDir, mounts }), run(t, meet('b', 'a'), { stateDir, mounts })]);
  assert.deepEqual([a!.code, a!.stdout, b!.code, b!.stdout], [0, 'a met b\n', 0, 'b met a\n']);
  assert.deepEqual(await leftovers(stateDir), []);
});

test('extra bind and tmpfs mounts apply, and their mount points leave no trace', async (t) => {
  const rootfs = await busyboxRootfs(t);
  const data = await tempDir(t);
  await writeFile(join(data, 'input'), 'from the host\n');
  const mounts = [
    { type: 'bind', source: data, destination: '/data', readonly: true },
    { type: 'tmpfs', destination: '/scratch/tmp', size: 1 << 20 },
  ] as const;
  const script = 'cat /data/input; touch /data/x 2>/dev/null || echo read-only; awk \'$5 == "/scratch/tmp" { print $5, $(NF - 1), $NF }\' /proc/self/mountinfo';
  const { stdout } = await run(t, script, { rootfs, mounts });
  assert.equal(stdout, 'from the host\nread-only\n/scratch/tmp tmpfs rw,size=1024k\n');
  assert.equal(existsSync(join(rootfs, 'data')), false);
  assert.equal(existsSync(join(rootfs, 'scratch')), false);
});

test('the root filesystem may be an overlay mount point; changes land in the upper directory only', async (t) => {
  const dir = await tempDir(t);
  const lower = await busyboxRootfs(t);
  const [upper, work, merged] = ['upper', 'work', 'merged'].map((name) => join(dir, name)) as [string, string, string];
  for (const path of [upper, work, merged]) await mkdir(path);
  await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    assert.equal((await run(t, 'echo hi > /made-here; id > /tmp/id', { rootfs: merged })).code, 0);
  } finally {
    await execFileAsync('umount', [merged]);
  }
  assert.equal(await readFile(join(upper, 'made-here'), 'utf8'), 'hi\n');
  assert.equal(await readFile(join(upper, 'tmp', 'id'), 'utf8'), 'uid=0(root) gid=0(root)\n');
  assert.equal(existsSync(join(lower, 'made-here')), false);
  // The hosts and resolv.conf stubs are gone; /etc itself was copied up to hold them while the command ran.
  assert.deepEqual(await readdir(join(upper, 'etc')), []);
});

test('a command that cannot start is the runtime\'s error, not an exit code', async (t) => {
  const base = await options(t);
  await assert.rejects(runContainer({ ...base, args: ['no-such-command'] }), (error: Error) => {
    assert.ok(error instanceof ContainerRuntimeError);
    assert.match(error.message, /exec: "no-such-command": executable file not found in \$PATH/);
    return true;
  });
  assert.deepEqual(await leftovers(base.stateDir), []);
});

test('a missing runtime says what to install', async (t) => {
  const base = await options(t, { runtime: '/nonexistent/runc' });
  await assert.rejects(runContainer(base), new ContainerRuntimeError('RUN needs an OCI runtime: apt-get install runc, or pass --runtime (/nonexistent/runc was not found)'));
  assert.deepEqual(await leftovers(base.stateDir), []);
});

test('stale containers and bundles of dead processes are removed; a live process keeps its own', async (t) => {
  const base = await options(t);
  // A container of a process that died: started detached, as if its `runc run` had been killed.
  const staleId = `${DEAD_PID}-crashed`;
  const staleBundle = join(base.stateDir, 'bundles', staleId);
  await mkdir(staleBundle, { recursive: true });
  await writeFile(join(staleBundle, 'hosts'), containerHosts());
  await writeFile(join(staleBundle, 'resolv.conf'), '');
  const paths = { rootfs: base.rootfs, hosts: join(staleBundle, 'hosts'), resolvConf: join(staleBundle, 'resolv.conf') };
  const spec = ociSpec({ ...(base as ContainerProcess), args: ['sleep', '100'] }, paths, await openFilesLimit());
  await writeFile(join(staleBundle, 'config.json'), JSON.stringify(spec));
  await runDetached(base.stateDir, staleBundle, staleId);
  assert.deepEqual(await listContainers(base.stateDir), [`${staleId} running`]);

  const controller = new AbortController();
  t.after(() => controller.abort());
  let ready!: () => void;
  const liveReady = new Promise<void>((resolve) => (ready = resolve));
  const live = runContainer({ ...base, args: ['sh', '-c', 'echo ready; sleep 100'], signal: controller.signal, onOutput: () => ready() });
  live.catch(() => {});
  await liveReady;

  await removeStaleContainers(base.stateDir);
  const remaining = await listContainers(base.stateDir);
  assert.equal(remaining.length, 1);
  assert.match(remaining[0]!, new RegExp(`^${process.pid}-\\w+ running$`));
  assert.equal(existsSync(staleBundle), false);
  controller.abort();
  await assert.rejects(live, { name: 'AbortError' });
  assert.deepEqual(await leftovers(base.stateDir), []);
});

test('without a state directory there is nothing stale', async (t) => {
  await removeStaleContainers(join(await tempDir(t), 'never-used'), '/nonexistent/runc');
});

/** `runc list` of the state directory: `ID STATUS` per container. */
async function listContainers(stateDir: string): Promise<string[]> {
  const { stdout } = await execFileAsync('runc', ['--root', join(stateDir, 'runc'), 'list', '--format', 'json']);
  return ((JSON.parse(stdout) ?? []) as { id: string; status: string }[]).map((container) => `${container.id} ${container.status}`);
}

/** `runc run --detach`, stdio closed, as a wharf process that then died would leave it. */
async function runDetached(stateDir: string, bundle: string, id: string): Promise<void> {
  const child = spawn('runc', ['--root', join(stateDir, 'runc'), 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0);
}
