import { createHash } from 'node:crypto';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildSession } from '../build-session.js';
import type { SourceTree } from '../context/build-context.js';
import type { BindMount, CacheMount, RunMount, SecretMount } from '../frontend/index.js';
import type { ContainerMount } from '../runtime/oci-spec.js';

/** The mounts and environment a RUN's --mount flags add, and how to give back what they hold. */
export interface PreparedMounts {
  readonly mounts: ContainerMount[];
  /** `NAME=value` of secrets mounted as environment variables: for the process only, never the key or history. */
  readonly env: string[];
  /** Unlocks cache mounts; call after the process exits. */
  release(): Promise<void>;
}

/** Cache mounts in use in this process, by directory: `locked` waits on them, `private` avoids them. */
const cacheUsers = new Map<string, { count: number; idle: Promise<void>; wake: () => void }>();

/**
 * Makes each RUN --mount ready: bind sources found (copied to `scratch` when writable, so a RUN never
 * changes the context or another stage), cache directories created in the build root and locked as
 * their sharing asks, tmpfs passed through, secrets written to `scratch` with their mode and owner.
 */
export async function prepareRunMounts(session: BuildSession, mounts: readonly RunMount[], scratch: string): Promise<PreparedMounts> {
  const releases: (() => void)[] = [];
  const prepared: PreparedMounts = {
    mounts: [],
    env: [],
    async release() {
      while (releases.length > 0) releases.pop()!();
    },
  };
  try {
    for (const [index, mount] of mounts.entries()) {
      switch (mount.type) {
        case 'bind':
          prepared.mounts.push(await bindMount(session, mount, join(scratch, `bind-${index}`)));
          break;
        case 'cache': {
          const { source, release } = await cacheMount(session, mount);
          releases.push(release);
          prepared.mounts.push({ type: 'bind', source, destination: mount.target, readonly: mount.readonly });
          break;
        }
        case 'tmpfs':
          prepared.mounts.push({ type: 'tmpfs', destination: mount.target, ...(mount.size !== undefined ? { size: mount.size } : {}) });
          break;
        case 'secret':
          await secretMount(session, mount, join(scratch, `secret-${index}`), prepared);
          break;
      }
    }
  } catch (error) {
    await prepared.release();
    throw error;
  }
  return prepared;
}

async function bindMount(session: BuildSession, mount: BindMount, copyTo: string): Promise<ContainerMount> {
  const tree: SourceTree = mount.from ? await session.sourceRootfs(mount.from) : session.context;
  const source = await tree.hostPath(mount.source);
  if (!source) throw new Error(`mount source "${mount.source}" not found${mount.from ? ` in ${mount.from}` : ' in the build context'}`);
  // A writable bind gets a copy: what the RUN writes there is thrown away, as in BuildKit.
  if (!mount.readonly) {
    await cp(source, copyTo, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    return { type: 'bind', source: copyTo, destination: mount.target, readonly: false };
  }
  return { type: 'bind', source, destination: mount.target, readonly: true };
}

async function cacheMount(session: BuildSession, mount: CacheMount): Promise<{ source: string; release: () => void }> {
  const id = createHash('sha256').update(mount.id).digest('hex').slice(0, 32);
  let dir = join(session.options.root, 'cache-mounts', id);
  if (mount.sharing === 'locked') {
    while (cacheUsers.has(dir)) await cacheUsers.get(dir)!.idle;
  } else if (mount.sharing === 'private' && cacheUsers.has(dir)) {
    // Busy: this RUN gets a cache of its own, kept beside the shared one.
    dir = await mkdtemp(`${dir}-private-`);
  }
  const user = cacheUsers.get(dir);
  if (user) user.count++;
  else {
    let wake!: () => void;
    const idle = new Promise<void>((resolve) => (wake = resolve));
    cacheUsers.set(dir, { count: 1, idle, wake });
  }
  try {
    await seedCache(session, mount, dir);
  } catch (error) {
    releaseCache(dir);
    throw error;
  }
  return { source: dir, release: () => releaseCache(dir) };
}

function releaseCache(dir: string): void {
  const user = cacheUsers.get(dir)!;
  if (--user.count > 0) return;
  cacheUsers.delete(dir);
  user.wake();
}

/** Creates the cache directory the first time: empty with the mount's mode and owner, or a copy of `from`'s `source`. */
async function seedCache(session: BuildSession, mount: CacheMount, dir: string): Promise<void> {
  const exists = await readdir(dir).then(
    () => true,
    () => false,
  );
  if (exists) return;
  const partial = `${dir}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  if (mount.from) {
    const source = await (await session.sourceRootfs(mount.from)).hostPath(mount.source);
    if (!source) throw new Error(`cache mount source "${mount.source}" not found in ${mount.from}`);
    await cp(source, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  } else {
    await mkdir(partial, { recursive: true });
    await chmod(partial, mount.mode);
    await chown(partial, mount.uid, mount.gid);
  }
  await mkdir(join(dir, '..'), { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
}

async function secretMount(session: BuildSession, mount: SecretMount, file: string, prepared: PreparedMounts): Promise<void> {
  const source = session.options.secrets.find((secret) => secret.id === mount.id);
  const value = source ? ('file' in source ? await readFile(source.file).catch(() => undefined) : envValue(source.env)) : undefined;
  if (value === undefined) {
    if (mount.required) throw new Error(`secret ${mount.id} is required but was not given (--secret id=${mount.id},src=FILE)`);
    return;
  }
  if (mount.env) prepared.env.push(`${mount.env}=${value.toString('utf8')}`);
  if (!mount.target) return;
  await writeFile(file, value, { mode: mount.mode });
  await chmod(file, mount.mode);
  await chown(file, mount.uid, mount.gid);
  prepared.mounts.push({ type: 'bind', source: file, destination: mount.target, readonly: true });
}

function envValue(name: string): Buffer | undefined {
  const value = process.env[name];
  return value === undefined ? undefined : Buffer.from(value, 'utf8');
}
