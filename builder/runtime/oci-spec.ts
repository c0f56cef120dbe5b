import { posix } from 'node:path';
import type { ContainerUser } from './container-user.js';
import { SANDBOX_HOSTNAME, type NetworkMode } from './network-files.js';
import { BUILDKIT_OPEN_FILES } from './open-files-limit.js';

/** A mount a RUN asks for on top of the standard ones (RUN --mount): a host path or a fresh tmpfs. */
export type ContainerMount =
  | { readonly type: 'bind'; readonly source: string; readonly destination: string; readonly readonly?: boolean }
  | { readonly type: 'tmpfs'; readonly destination: string; /** bytes */ readonly size?: number };

/** What one RUN runs, and how. */
export interface ContainerProcess {
  readonly args: readonly string[];
  /** `NAME=value` entries, PATH included: the runtime looks args[0] up in this PATH. */
  readonly env: readonly string[];
  /** Absolute; the runtime creates it (owned by root) when the image lacks it, as BuildKit does. */
  readonly cwd: string;
  readonly user: ContainerUser;
  readonly network: NetworkMode;
  /** Mounted after the standard ones, in this order. */
  readonly mounts?: readonly ContainerMount[];
}

/** Host paths of what a container is made of besides its config. */
export interface BundlePaths {
  readonly rootfs: string;
  readonly hosts: string;
  readonly resolvConf: string;
}

/** One entry of the spec's `mounts`. */
export interface SpecMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

/** The part of the OCI runtime spec (config.json) a RUN uses. */
export interface RuntimeSpec {
  readonly ociVersion: string;
  readonly process: {
    readonly terminal: boolean;
    readonly user: { readonly uid: number; readonly gid: number; readonly additionalGids?: readonly number[] };
    readonly args: readonly string[];
    readonly env: readonly string[];
    readonly cwd: string;
    readonly capabilities: { readonly bounding: readonly string[]; readonly effective?: readonly string[]; readonly permitted?: readonly string[] };
    readonly rlimits: readonly { readonly type: string; readonly hard: number; readonly soft: number }[];
    readonly noNewPrivileges: boolean;
  };
  readonly root: { readonly path: string; readonly readonly: boolean };
  readonly hostname: string;
  readonly mounts: readonly SpecMount[];
  readonly linux: {
    readonly namespaces: readonly { readonly type: string }[];
    readonly resources: { readonly devices: readonly { readonly allow: boolean; readonly access: string }[] };
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
  };
}

/** Docker's default capabilities (moby's caps.DefaultCapabilities), which BuildKit gives RUN too. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Docker's defaults: kernel interfaces a container must not read (masked) or write (read-only). */
const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The OCI runtime config of one RUN: Docker's default container (namespaces, mounts, capabilities,
 * masked paths) with BuildKit's hostname, /etc files and open-files limit (see openFilesLimit()).
 * The network namespace is the host's with 'host'; with 'none' it is a new one, in which runc
 * brings loopback up (as BuildKit's has it). No cgroupsPath: runc then names the container's
 * cgroup after its id, below the builder's own (beside it on cgroup v2), so the builder's limits
 * hold and containers of concurrent builds never share one.
 */
export function ociSpec(container: ContainerProcess, paths: BundlePaths, openFiles = BUILDKIT_OPEN_FILES): RuntimeSpec {
  const namespaces = ['pid', 'ipc', 'uts', 'mount', 'cgroup', ...(container.network === 'host' ? [] : ['network'])];
  // As execve would for a non-root user, and as BuildKit's and Docker's RUN show: no effective or
  // permitted capabilities unless uid 0, only the bounding set.
  const root = container.user.uid === 0;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: container.user,
      args: container.args,
      env: container.env,
      cwd: container.cwd,
      capabilities: {
        bounding: DEFAULT_CAPABILITIES,
        ...(root ? { effective: DEFAULT_CAPABILITIES, permitted: DEFAULT_CAPABILITIES } : {}),
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: openFiles, soft: openFiles }],
      noNewPrivileges: false,
    },
    root: { path: paths.rootfs, readonly: false },
    hostname: SANDBOX_HOSTNAME,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      readOnlyFile(paths.resolvConf, '/etc/resolv.conf'),
      readOnlyFile(paths.hosts, '/etc/hosts'),
      ...(container.mounts ?? []).map(specMount),
    ],
    linux: {
      namespaces: namespaces.map((type) => ({ type })),
      // Deny every device but those runc always allows (null, zero, full, random, urandom, tty, ptmx).
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/** Where the standard and extra mounts of `container` land, normalized: the paths runc may have to create. */
export function mountDestinations(container: ContainerProcess): string[] {
  return ['/etc/resolv.conf', '/etc/hosts', ...(container.mounts ?? []).map((mount) => posix.resolve('/', mount.destination))];
}

function readOnlyFile(source: string, destination: string): SpecMount {
  return { destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'noexec', 'nodev'] };
}

function specMount(mount: ContainerMount): SpecMount {
  const destination = posix.resolve('/', mount.destination);
  if (mount.type === 'tmpfs') return { destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(mount.size ? [`size=${mount.size}`] : [])] };
  return { destination, type: 'bind', source: mount.source, options: ['rbind', mount.readonly ? 'ro' : 'rw'] };
}
