import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CAPABILITIES, mountDestinations, ociSpec, type ContainerProcess } from '../../builder/runtime/oci-spec.js';
import { allowedOpenFiles } from '../../builder/runtime/open-files-limit.js';

const PATHS = { rootfs: '/build/rootfs', hosts: '/state/bundle/hosts', resolvConf: '/state/bundle/resolv.conf' };
const PROCESS: ContainerProcess = {
  args: ['/bin/sh', '-c', 'make'],
  env: ['PATH=/usr/bin:/bin', 'CC=gcc'],
  cwd: '/src',
  user: { uid: 0, gid: 0, additionalGids: [] },
  network: 'none',
};

test('a RUN gets Docker\'s default container with BuildKit\'s hostname', () => {
  const spec = ociSpec(PROCESS, PATHS);
  assert.deepEqual(spec.process.args, PROCESS.args);
  assert.deepEqual(spec.process.env, PROCESS.env);
  assert.equal(spec.process.cwd, '/src');
  assert.equal(spec.process.terminal, false);
  assert.equal(spec.process.noNewPrivileges, false);
  assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
  assert.deepEqual(spec.root, { path: '/build/rootfs', readonly: false });
  assert.equal(spec.hostname, 'buildkitsandbox');
  assert.deepEqual(
    spec.mounts.map((mount) => `${mount.destination} ${mount.type}`),
    ['/proc proc', '/dev tmpfs', '/dev/pts devpts', '/dev/shm tmpfs', '/dev/mqueue mqueue', '/sys sysfs', '/sys/fs/cgroup cgroup', '/etc/resolv.conf bind', '/etc/hosts bind'],
  );
  assert.ok(spec.mounts.find((mount) => mount.destination === '/sys')!.options!.includes('ro'));
  const hosts = spec.mounts.find((mount) => mount.destination === '/etc/hosts')!;
  assert.equal(hosts.source, PATHS.hosts);
  assert.ok(hosts.options!.includes('ro'));
  assert.equal(spec.mounts.find((mount) => mount.destination === '/etc/resolv.conf')!.source, PATHS.resolvConf);
  assert.ok(spec.linux.maskedPaths.includes('/proc/kcore'));
  assert.ok(spec.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(spec.linux.resources.devices, [{ allow: false, access: 'rwm' }]);
});

test('root gets the default capabilities; another user only their bounding set, as after execve', () => {
  const root = ociSpec(PROCESS, PATHS).process;
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(root.capabilities, { bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES });
  const app = ociSpec({ ...PROCESS, user: { uid: 1000, gid: 1000, additionalGids: [50] } }, PATHS).process;
  assert.deepEqual(app.capabilities, { bounding: DEFAULT_CAPABILITIES });
  assert.deepEqual(app.user, { uid: 1000, gid: 1000, additionalGids: [50] });
});

test('network none has a namespace of its own; host shares the host\'s', () => {
  const types = (network: ContainerProcess['network']) => ociSpec({ ...PROCESS, network }, PATHS).linux.namespaces.map((namespace) => namespace.type);
  assert.deepEqual(types('none'), ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network']);
  assert.deepEqual(types('host'), ['pid', 'ipc', 'uts', 'mount', 'cgroup']);
});

test('extra mounts come after the standard ones, normalized', () => {
  const mounts = [
    { type: 'bind', source: '/cache/go', destination: 'root/go/' },
    { type: 'bind', source: '/ctx', destination: '/src', readonly: true },
    { type: 'tmpfs', destination: '/tmp/../scratch', size: 1048576 },
  ] as const;
  const spec = ociSpec({ ...PROCESS, mounts }, PATHS);
  assert.deepEqual(spec.mounts.slice(-3), [
    { destination: '/root/go', type: 'bind', source: '/cache/go', options: ['rbind', 'rw'] },
    { destination: '/src', type: 'bind', source: '/ctx', options: ['rbind', 'ro'] },
    { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1048576'] },
  ]);
  assert.deepEqual(mountDestinations({ ...PROCESS, mounts }), ['/etc/resolv.conf', '/etc/hosts', '/root/go', '/src', '/scratch']);
});

test('the open-files limit is BuildKit\'s unless this process may not raise its own that far', () => {
  const limits = (hard: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 ${hard}                files     \n`;
  const withSysResource = 'CapEff:\t000001ffffffffff\n';
  const withoutSysResource = 'CapEff:\t000001fffeffffff\n';
  assert.equal(allowedOpenFiles(limits('20000'), withSysResource), 1048576);
  assert.equal(allowedOpenFiles(limits('20000'), withoutSysResource), 20000);
  assert.equal(allowedOpenFiles(limits('4194304'), withoutSysResource), 1048576);
  assert.equal(allowedOpenFiles(limits('unlimited'), withoutSysResource), 1048576);
  assert.deepEqual(ociSpec(PROCESS, PATHS, 20000).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
});
