// runc creates a mount point the root filesystem lacks (an empty file for /etc/hosts, empty
// directories for a RUN --mount target and its missing parents), and a RUN's layer would then
// carry them. As BuildKit's MountStubsCleaner does, the paths are noted before the run and
// removed after it if they are still empty. (/proc, /dev and /sys stay, as BuildKit leaves them.)
import { lstat, readdir, readlink, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot, type RootStep } from '../context/resolve-in-root.js';

/** Root-relative paths that did not exist before a run, each listed before its parent. */
export type MountStubs = readonly string[];

/** The paths of `destinations` (absolute, inside `rootfs`) that are missing, symlinks followed inside the root. */
export async function findMountStubs(rootfs: string, destinations: readonly string[]): Promise<MountStubs> {
  const stubs: string[] = [];
  for (const destination of destinations) {
    const { resolved, unresolved } = await resolveInRoot(destination, (component) => look(rootfs, component.path), tooManyLinks(destination));
    for (let depth = unresolved.length; depth > 0; depth--) stubs.push([...resolved, ...unresolved.slice(0, depth)].join('/'));
  }
  return stubs;
}

/**
 * Removes the stubs that are still an empty file or directory. The directory that held each keeps
 * the times the run left it with, as in BuildKit: the removal adds no change of its own.
 */
export async function removeMountStubs(rootfs: string, stubs: MountStubs): Promise<void> {
  for (const stub of stubs) {
    const slash = stub.lastIndexOf('/');
    // The command may have replaced a parent with a symlink: resolve it inside the root, never on the host.
    const parent = await resolveInRoot(slash < 0 ? '' : stub.slice(0, slash), (component) => look(rootfs, component.path), tooManyLinks(stub));
    if (parent.unresolved.length > 0) continue;
    const parentPath = join(rootfs, ...parent.resolved);
    const path = join(parentPath, stub.slice(slash + 1));
    const stats = await lstat(path).catch(() => undefined);
    if (!stats || (stats.isDirectory() ? (await readdir(path)).length > 0 : !stats.isFile() || stats.size > 0)) continue;
    const times = await stat(parentPath);
    await rm(path, { recursive: true });
    await utimes(parentPath, times.atime, times.mtime);
  }
}

async function look(rootfs: string, path: string): Promise<RootStep> {
  const hostPath = join(rootfs, path);
  const stats = await lstat(hostPath).catch(() => undefined);
  if (!stats) return 'stop';
  return stats.isSymbolicLink() ? { follow: await readlink(hostPath) } : 'enter';
}

function tooManyLinks(path: string): () => Error {
  return () => new Error(`too many levels of symbolic links resolving ${path} in the root filesystem`);
}
