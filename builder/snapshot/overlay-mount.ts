import { spawnSync } from 'node:child_process';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { isAlive } from '../build-root.js';
import { CommandError, runCommand } from '../run-command.js';

/** Raised when overlayfs cannot be mounted on this machine; the message says what is needed. */
export class OverlayUnavailableError extends Error {}

/** What mountOverlay() mounts where. */
export interface OverlayOptions {
  /**
   * Read-only layers, top-most first. Too few for the kernel (none with an upper dir, fewer than two
   * without) are made up with an empty directory beside the target, `<target>.empty`, which the
   * caller removes with the target.
   */
  readonly lowerDirs: readonly string[];
  /** Where the changes go; with the work dir, on one filesystem that has trusted xattrs. Without them the overlay is read-only. */
  readonly upperDir?: string;
  readonly workDir?: string;
  /** The merged view's mount point. */
  readonly target: string;
}

/**
 * No index, metacopy or redirect: the upper dir then holds whole copies and plain whiteouts only,
 * which is what overlayDiff() reads and what a later mount can take as a lower dir.
 */
const MOUNT_FEATURES = 'index=off,metacopy=off,redirect_dir=off';

/**
 * mount(2) copies its options into one page (4 KiB on x86-64 and arm64 by default), NUL included,
 * and drops the rest: a longer lowerdir list fails to mount, or mounts cut short.
 */
const MOUNT_OPTIONS_MAX_BYTES = 4095;

/** Overlays this process mounted and has not unmounted, for unmountAllSync(). */
const mounted = new Set<string>();

/**
 * Mounts an overlay at `target` (upper, work and target dirs are made if missing). mount runs in
 * the lower dirs' common directory and names them relative to it, so that many layers fit the
 * one-page limit of mount options. Throws OverlayUnavailableError when overlayfs cannot be used here.
 */
export async function mountOverlay(options: OverlayOptions): Promise<void> {
  if (process.getuid?.() !== 0) throw unavailable(`this process runs as uid ${process.getuid?.()}, not root`);
  const writable = options.upperDir !== undefined && options.workDir !== undefined ? [resolve(options.upperDir), resolve(options.workDir)] : [];
  const target = resolve(options.target);
  const lowerDirs = options.lowerDirs.map((dir) => resolve(dir));
  // The kernel wants one lower dir beside an upper dir, and two for a read-only overlay.
  const padding = Math.max(0, (writable.length > 0 ? 1 : 2) - lowerDirs.length);
  if (padding > 0) lowerDirs.push(`${target}.empty`);
  await Promise.all([...writable, target, ...(padding > 0 ? [`${target}.empty`] : [])].map((dir) => mkdir(dir, { recursive: true })));
  const cwd = commonDirectory(lowerDirs);
  const lowerNames = lowerDirs.map((dir) => relative(cwd, dir));
  for (const path of [...lowerNames, ...writable]) {
    // ':' separates lower dirs and ',' options; the paths are the build root's, so refuse rather than escape.
    if (/[:,\\]/.test(path)) throw new Error(`overlay directory ${path} contains ':', ',' or '\\'`);
  }
  const upper = writable.length > 0 ? `,upperdir=${writable[0]},workdir=${writable[1]}` : '';
  const data = `lowerdir=${lowerNames.join(':')}${upper},${MOUNT_FEATURES}`;
  if (Buffer.byteLength(data) > MOUNT_OPTIONS_MAX_BYTES) {
    throw new Error(
      `cannot mount ${lowerDirs.length} layers: their overlay mount options take ${Buffer.byteLength(data)} bytes, the kernel reads at most ${MOUNT_OPTIONS_MAX_BYTES}`,
    );
  }
  try {
    await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', data, '--', target], { cwd });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    if (error.notFound) throw unavailable('the mount command is missing');
    if (/unknown filesystem type/i.test(error.stderr)) throw unavailable('the kernel has no overlay filesystem');
    if (/superuser|permission denied|not permitted/i.test(error.stderr)) throw unavailable(error.stderr);
    throw error;
  }
  mounted.add(target);
}

/** Unmounts `target`; when it is busy, detaches it lazily (the kernel frees it once unused). Nothing mounted there is fine. */
export async function unmount(target: string): Promise<void> {
  const path = resolve(target);
  try {
    await runCommand('umount', ['--', path]);
  } catch {
    if ((await mountPoints()).includes(path)) await runCommand('umount', ['--lazy', '--', path]);
  }
  mounted.delete(path);
}

/** Runs `fn` with the overlay mounted at `options.target` and unmounts it however `fn` ends. */
export async function withOverlay<T>(options: OverlayOptions, fn: (target: string) => Promise<T>): Promise<T> {
  await mountOverlay(options);
  try {
    return await fn(resolve(options.target));
  } finally {
    await unmount(options.target);
  }
}

/**
 * Unmounts what dead processes (kill -9, power loss) left mounted under the build root: mount
 * points inside a `<pid>-…` directory, as the build root names every temporary, whose process is
 * gone; deepest first. Run it before their temporaries are removed. Returns what it unmounted.
 */
export async function removeStaleMounts(buildRoot: string): Promise<string[]> {
  const root = await realpath(buildRoot).catch(() => undefined);
  if (root === undefined) return [];
  const stale = (await mountPoints())
    .filter((point) => point.startsWith(`${root}${sep}`))
    .filter((point) => {
      const owner = relative(root, point).split(sep).map((part) => /^(\d+)-/.exec(part)).find((match) => match !== null);
      return owner !== undefined && !isAlive(Number(owner[1]));
    })
    .sort((a, b) => b.length - a.length);
  for (const point of stale) await unmount(point);
  return stale;
}

/**
 * Lazily unmounts every overlay this process still has mounted. For exits that skip `finally`
 * blocks (a signal handler calling process.exit), so they leave no mount behind.
 */
export function unmountAllSync(): void {
  for (const target of [...mounted].reverse()) spawnSync('umount', ['--lazy', '--', target], { stdio: 'ignore' });
  mounted.clear();
}

/** Every mount point of this process's mount namespace (none where there is no /proc). */
async function mountPoints(): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // The fifth field, with space, tab, newline and backslash written as octal escapes.
  return table
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** The deepest directory containing all of `paths` (absolute), none of them itself. */
function commonDirectory(paths: readonly string[]): string {
  let common = dirname(paths[0]!).split(sep);
  for (const path of paths.slice(1)) {
    const parts = dirname(path).split(sep);
    let same = 0;
    while (same < common.length && same < parts.length && common[same] === parts[same]) same++;
    common = common.slice(0, same);
  }
  return common.join(sep) || sep;
}

function unavailable(reason: string): OverlayUnavailableError {
  return new OverlayUnavailableError(
    `overlayfs is unavailable (${reason}): RUN steps need root (or CAP_SYS_ADMIN), a kernel with overlayfs (modprobe overlay) and mount(8) from util-linux`,
  );
}
