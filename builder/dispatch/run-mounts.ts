import { createHash } from 'node:crypto';
import { chmod, chown, cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeScratchDirectory } from '../build-root.js';
import { makeDirectoryOnce } from '../directory-once.js';
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
  const releases: (() => Promise<void>)[] = [];
  const prepared: PreparedMounts = {
    mounts: [],
    env: [],
    async release() {
      while (releases.length > 0) await releases.pop()!();
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

async function cacheMount(session: BuildSession, mount: CacheMount): Promise<{ source: string; release: () => Promise<void> }> {
  const id = createHash('sha256').update(mount.id).digest('hex').slice(0, 32);
  let dir = join(session.options.root, 'cache-mounts', id);
  let scratch: string | undefined;
  if (mount.sharing === 'locked') {
    while (cacheUsers.has(dir)) await cacheUsers.get(dir)!.idle;
  } else if (mount.sharing === 'private' && cacheUsers.has(dir)) {
    // Busy: this RUN gets a fresh cache of its own, seeded like a new one and gone after the RUN.
    scratch = await makeScratchDirectory(session.options.root, 'cache');
    dir = join(scratch, 'cache');
  }
  const user = cacheUsers.get(dir);
  if (user) user.count++;
  else {
    let wake!: () => void;
    const idle = new Promise<void>((resolve) => (wake = resolve));
    cacheUsers.set(dir, { count: 1, idle, wake });
  }
  const release = async () => {
    releaseCache(dir);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  };
  try {
    await seedCache(session, mount, dir);
  } catch (error) {
    await release();
    throw error;
  }
  return { source: dir, release };
}

function releaseCache(dir: string): void {
  const user = cacheUsers.get(dir)!;
  if (--user.count > 0) return;
  cacheUsers.delete(dir);
  user.wake();
}

/** Makes the cache directory the first time: empty with the mount's mode and owner, or a copy of `from`'s `source`. */
async function seedCache(session: BuildSession, mount: CacheMount, dir: string): Promise<void> {
  await makeDirectoryOnce(dir, async (building) => {
    if (mount.from) {
      const source = await (await session.sourceRootfs(mount.from)).hostPath(mount.source);
      if (!source) throw new Error(`cache mount source "${mount.source}" not found in ${mount.from}`);
      await cp(source, building, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      await chmod(building, (await stat(source)).mode & 0o7777);
    } else {
      await chmod(building, mount.mode);
      await chown(building, mount.uid, mount.gid);
    }
  });
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
