import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { FileEntry, LayerEntry } from '../../shared/layer/layer-entry.js';
import { isNumeric, notFoundMessage, parseId, readGroups, readPasswd, type RootfsFileReader } from '../user-database.js';
import type { ResolvedSource, SourceEntry } from './build-context.js';
import { resolveInRootSync, splitPath, type RootResolution } from './resolve-in-root.js';

/** What the destination image has at a path (lstat: a symlink is reported, not followed). */
export interface ExistingPath {
  readonly type: 'directory' | 'file' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  /** A symlink's target. */
  readonly target?: string;
}

/** Looks a root-relative path ('' is the root, no leading '/') up in the destination image's filesystem. */
export type DestinationLookup = (path: string) => ExistingPath | undefined;

/** Numeric owner for `--chown`. */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
}

/** Input of planCopy(). */
export interface CopyPlanOptions {
  /** What the sources resolved to, in Dockerfile order (SourceTree.resolveSources, add-source.ts). */
  readonly sources: readonly ResolvedSource[];
  /** The destination as written (after variable expansion); relative to `workdir` unless absolute. */
  readonly destination: string;
  /** The stage's WORKDIR, absolute. */
  readonly workdir: string;
  /** `--chown`, resolved: owner of everything copied and of the directories created for it. */
  readonly chown?: Ownership;
  /** `--chmod`: replaces the mode (0o7777) of copied files and directories, not of symlinks or created parents. */
  readonly chmod?: number;
  /** Mtime of directories the copy creates (otherwise `now`); the layer writer clamps the rest. */
  readonly sourceDateEpoch?: number;
  /** Seconds; mtime of created directories without sourceDateEpoch. Default: the current time. */
  readonly now?: number;
  /**
   * The destination image's filesystem (see rootfsLookup). Without it the image counts as empty,
   * which is right only for FROM scratch: copying into an existing directory needs it, or the
   * layer would reset that directory's mode and owner (think /tmp's 1777).
   */
  readonly existing?: DestinationLookup;
  /** Names the instruction in errors (default COPY). */
  readonly instruction?: 'COPY' | 'ADD';
}

/** A copy the destination's filesystem does not allow (a file where a directory must go, or the reverse). */
export class CopyDestinationError extends Error {
  override readonly name = 'CopyDestinationError';
}

/** A `--chown` value that names an unknown user or group, or is malformed. */
export class ChownError extends Error {
  override readonly name = 'ChownError';
}

type Metadata = Pick<FileEntry, 'mode' | 'uid' | 'gid' | 'mtime' | 'xattrs'>;

type Planned =
  | ({ readonly type: 'directory' } & Metadata)
  | ({ readonly type: 'file'; readonly size: number; readonly source: FileEntry['source']; readonly linkGroup?: string } & Metadata)
  | ({ readonly type: 'symlink'; readonly target: string } & Metadata)
  | ({ readonly type: 'hardlink'; readonly target: string; readonly origin: string } & Metadata);

type Node = { readonly type: ExistingPath['type']; readonly target?: string };

/**
 * The layer entries of a COPY or ADD, as BuildKit lays them out (fsutil's copy):
 * - the destination is relative to WORKDIR; it is a directory when it ends with '/' (or is '.'),
 *   when it already is one in the image (symlinks followed), or when several items are copied
 *   (BuildKit would write each over the last; the classic builder refuses); otherwise a file
 *   source is written under that name, also when it is a wildcard's only match;
 * - a directory source copies its contents; a missing destination directory and missing parents
 *   are created 0755, owned by --chown's owner (else 0:0), existing ones keep their metadata;
 * - copied entries keep mode, mtime and (without --chown) owner; --chmod sets the mode of files and
 *   directories; symlinks stay symlinks, hardlinked files of one source stay hardlinked;
 * - an ADD archive is extracted into the destination, keeping its entries' owners and modes.
 * Parent directories that already exist are listed with their existing metadata, as a layer diff lists them.
 */
export function planCopy(options: CopyPlanOptions): LayerEntry[] {
  const instruction = options.instruction ?? 'COPY';
  const created = options.sourceDateEpoch ?? options.now ?? Math.floor(Date.now() / 1000);
  const tree = new DestinationTree(options.existing, instruction);
  const owner = options.chown ?? { uid: 0, gid: 0 };
  const newDirectory = (o: Ownership): Planned => ({ type: 'directory', mode: 0o755, uid: o.uid, gid: o.gid, mtime: created });

  const destination = posix.normalize(options.destination.startsWith('/') ? options.destination : `${options.workdir}/${options.destination}`);
  const destinationPath = stripRoot(destination);
  const written = options.destination;
  const intoDirectory = written === '' || written === '.' || written.endsWith('/') || options.sources.length > 1;

  const metadataOf = (entry: SourceEntry): Metadata => ({
    mode: entry.type === 'symlink' || options.chmod === undefined ? entry.mode : options.chmod & 0o7777,
    uid: options.chown?.uid ?? entry.uid,
    gid: options.chown?.gid ?? entry.gid,
    mtime: entry.mtime,
    ...(entry.xattrs ? { xattrs: entry.xattrs } : {}),
  });

  for (const source of options.sources) {
    if (source.kind === 'archive') {
      // BuildKit's unpack: the destination is a directory whatever its spelling.
      const root = tree.mkdirAll(destinationPath, newDirectory(owner));
      extractArchive(tree, root, source, newDirectory({ uid: 0, gid: 0 }));
      continue;
    }
    // fsutil's Copy: make the destination (or its parent), resolve it in the image, then decide.
    tree.mkdirAll(intoDirectory ? destinationPath : parentOf(destinationPath), newDirectory(owner));
    let target = tree.resolve(destinationPath);
    const found = tree.lstat(target);
    if (source.kind === 'file') {
      if (found?.type === 'directory') {
        tree.keepExisting(target);
        target = join2(target, source.name);
      } else {
        tree.mkdirAll(parentOf(target), newDirectory(owner));
      }
      const top = source.entries[0]!;
      tree.placeNonDirectory(target, plannedOf(top, metadataOf(top), source.group));
      continue;
    }
    if (!found) tree.mkdirAll(target, newDirectory(owner));
    const here = tree.lstat(target);
    if (here?.type !== 'directory') throw tree.error(`cannot copy to non-directory: /${target}`);
    tree.keepExisting(target);
    for (const entry of source.entries.slice(1)) {
      const path = join2(target, entry.path);
      if (entry.type === 'directory') {
        const there = tree.lstat(path);
        if (there && there.type !== 'directory') throw tree.error(`cannot copy to non-directory: /${path}`);
        tree.plan(path, { type: 'directory', ...metadataOf(entry) });
      } else {
        tree.placeNonDirectory(path, plannedOf(entry, metadataOf(entry), source.group));
      }
    }
  }
  return tree.entries();
}

function plannedOf(entry: SourceEntry, metadata: Metadata, group: number): Planned {
  switch (entry.type) {
    case 'file':
      return {
        type: 'file',
        ...metadata,
        size: entry.size,
        source: entry.source!,
        ...(entry.inode ? { linkGroup: `${group}/${entry.inode}` } : {}),
      };
    case 'symlink':
      return { type: 'symlink', ...metadata, target: entry.target ?? '' };
    default:
      throw new TypeError(`a copied tree cannot hold a ${entry.type} entry (${entry.path})`);
  }
}

/** Untar's rules: parents followed as in a chroot, an entry replaces what is there unless both are directories. */
function extractArchive(tree: DestinationTree, root: string, source: ResolvedSource, parentDirectory: Planned): void {
  for (const entry of source.entries) {
    if (entry.path === '') continue;
    const slash = entry.path.lastIndexOf('/');
    const parent = slash < 0 ? root : tree.mkdirAll(join2(root, entry.path.slice(0, slash)), parentDirectory);
    const path = join2(parent, entry.path.slice(slash + 1));
    const metadata: Metadata = {
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      mtime: entry.mtime,
      ...(entry.xattrs ? { xattrs: entry.xattrs } : {}),
    };
    switch (entry.type) {
      case 'whiteout':
        tree.whiteout(path);
        break;
      case 'opaque':
        tree.opaque(path);
        break;
      case 'directory':
        tree.plan(path, { type: 'directory', ...metadata });
        break;
      case 'file':
        tree.plan(path, { type: 'file', ...metadata, size: entry.size, source: entry.source! });
        break;
      case 'symlink':
        tree.plan(path, { type: 'symlink', ...metadata, target: entry.target ?? '' });
        break;
      case 'hardlink':
        tree.plan(path, { type: 'hardlink', ...metadata, target: join2(root, entry.target ?? ''), origin: `${source.path}: ${entry.path}` });
        break;
    }
  }
}

/**
 * The destination filesystem as the copy sees it: the image (through the lookup) under what the
 * copy has planned so far. Paths are root-relative, '' is the root.
 */
class DestinationTree {
  private readonly planned = new Map<string, Planned>();
  private readonly removals = new Map<string, LayerEntry>();
  /** Paths whose image content no longer shows: replaced by a different kind of entry, or whited out. */
  private readonly hidden = new Set<string>();

  constructor(
    private readonly existing: DestinationLookup | undefined,
    private readonly instruction: string,
  ) {}

  error(message: string): CopyDestinationError {
    return new CopyDestinationError(`${this.instruction} failed: ${message}`);
  }

  lstat(path: string): Node | undefined {
    if (path === '') return { type: 'directory' };
    const planned = this.planned.get(path);
    if (planned) return { type: planned.type === 'hardlink' ? 'file' : planned.type, ...(planned.type === 'symlink' ? { target: planned.target } : {}) };
    if (this.isHidden(path)) return undefined;
    return this.existing?.(path);
  }

  private isHidden(path: string): boolean {
    for (let p = path; ; p = p.slice(0, p.lastIndexOf('/'))) {
      if (this.hidden.has(p)) return true;
      if (!p.includes('/')) return false;
    }
  }

  /** Follows `path` through the destination's symlinks (scoped to its root); a missing tail is kept as written. */
  resolve(path: string): string {
    const { resolved, unresolved } = this.walk(path, (_, node) => (node ? 'enter' : 'stop'));
    // Nothing below a missing component to follow: the rest is taken as written.
    for (const rest of unresolved) {
      if (rest === '..') resolved.pop();
      else resolved.push(rest);
    }
    return resolved.join('/');
  }

  /**
   * Makes `path` a directory as fsutil's MkdirAll does after resolving it in the root: symlinks
   * followed, missing components created as `directory`, existing directories kept (and listed).
   * Returns the resolved path.
   */
  mkdirAll(path: string, directory: Planned): string {
    const { resolved } = this.walk(path, (candidate, node) => {
      if (!node) this.plan(candidate, directory);
      else if (node.type !== 'directory') throw this.error(`mkdir /${candidate}: not a directory`);
      else this.keepExisting(candidate);
      return 'enter';
    });
    return resolved.join('/');
  }

  /** Walks `path` in the destination's root, following its symlinks; `atComponent` decides about every other component. */
  private walk(path: string, atComponent: (candidate: string, node: Node | undefined) => 'enter' | 'stop'): RootResolution {
    return resolveInRootSync(
      path,
      ({ path: candidate }) => {
        const node = this.lstat(candidate);
        return node?.type === 'symlink' ? { follow: node.target! } : atComponent(candidate, node);
      },
      () => this.error(`too many levels of symbolic links resolving /${path}`),
    );
  }

  /** Lists an existing image directory the copy writes into, with its own metadata. */
  keepExisting(path: string): void {
    if (path === '' || this.planned.has(path)) return;
    const existing = this.existing?.(path);
    if (existing?.type !== 'directory' || this.isHidden(path)) return;
    this.planned.set(path, { type: 'directory', mode: existing.mode, uid: existing.uid, gid: existing.gid, mtime: existing.mtime });
  }

  /** A file or symlink at `path`, which must not be a directory (fsutil's ensureEmptyFileTarget). */
  placeNonDirectory(path: string, entry: Planned): void {
    if (this.lstat(path)?.type === 'directory') throw this.error(`cannot replace to directory /${path} with file`);
    this.plan(path, entry);
  }

  /** Puts `entry` at `path`, replacing what is there; a directory merges into a directory. */
  plan(path: string, entry: Planned): void {
    if (path === '') {
      if (entry.type !== 'directory') throw this.error('cannot replace the root directory with a file');
      return;
    }
    const before = this.lstat(path);
    if (before && !(before.type === 'directory' && entry.type === 'directory')) {
      this.dropPlannedBelow(path);
      this.hidden.add(path);
    }
    // A directory made again after a whiteout must still hide what the image had there.
    if (this.removals.get(path)?.type === 'whiteout' && entry.type === 'directory') this.removals.set(`${path}/`, { type: 'opaque', path });
    this.removals.delete(path);
    this.planned.delete(path);
    this.planned.set(path, entry);
  }

  /** Deletes `path` (and what is below it) from the image and from this copy so far. */
  whiteout(path: string): void {
    this.dropPlannedBelow(path);
    this.planned.delete(path);
    this.removals.delete(`${path}/`);
    this.hidden.add(path);
    this.removals.set(path, { type: 'whiteout', path });
  }

  /** Hides what the image has inside directory `path`; what this copy puts there stays. */
  opaque(path: string): void {
    this.keepExisting(path);
    this.hidden.add(path);
    this.removals.set(`${path}/`, { type: 'opaque', path });
  }

  private dropPlannedBelow(path: string): void {
    const prefix = `${path}/`;
    for (const key of [...this.planned.keys()]) if (key.startsWith(prefix)) this.planned.delete(key);
  }

  /** The planned layer entries; files of one hardlink group become one file and hardlinks to it. */
  entries(): LayerEntry[] {
    const out: LayerEntry[] = [...this.removals.values()];
    const groupFile = new Map<string, string>();
    for (const [path, entry] of this.planned) {
      const metadata = { path, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, ...(entry.xattrs ? { xattrs: entry.xattrs } : {}) };
      switch (entry.type) {
        case 'directory':
          out.push({ type: 'directory', ...metadata });
          break;
        case 'symlink':
          out.push({ type: 'symlink', ...metadata, target: entry.target });
          break;
        case 'hardlink': {
          const target = this.planned.get(entry.target);
          if (target?.type !== 'file' && target?.type !== 'hardlink') {
            throw this.error(`${entry.origin} is a hardlink to ${entry.target}, which the archive does not hold as a file`);
          }
          out.push({ type: 'hardlink', ...metadata, target: entry.target });
          break;
        }
        case 'file': {
          const first = entry.linkGroup === undefined ? undefined : groupFile.get(entry.linkGroup);
          if (first !== undefined) {
            out.push({ type: 'hardlink', ...metadata, target: first });
            break;
          }
          if (entry.linkGroup !== undefined) groupFile.set(entry.linkGroup, path);
          out.push({ type: 'file', ...metadata, size: entry.size, source: entry.source });
          break;
        }
      }
    }
    return out;
  }
}

/**
 * A DestinationLookup over an image's filesystem unpacked at `rootDir` (builder/rootfs.ts). It never
 * looks through a symlink on the host: a path is found only below real directories.
 */
export function rootfsLookup(rootDir: string): DestinationLookup {
  const cache = new Map<string, ExistingPath | undefined>();
  const lookup = (path: string): ExistingPath | undefined => {
    if (cache.has(path)) return cache.get(path);
    const slash = path.lastIndexOf('/');
    let result: ExistingPath | undefined;
    if (path === '' || slash < 0 || lookup(path.slice(0, slash))?.type === 'directory') {
      try {
        const host = join(rootDir, path);
        const stats = lstatSync(host);
        const type = stats.isDirectory() ? 'directory' : stats.isFile() ? 'file' : stats.isSymbolicLink() ? 'symlink' : 'other';
        result = {
          type,
          mode: stats.mode & 0o7777,
          uid: stats.uid,
          gid: stats.gid,
          mtime: Math.floor(stats.mtimeMs / 1000),
          ...(type === 'symlink' ? { target: readlinkSync(host) } : {}),
        };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      }
    }
    cache.set(path, result);
    return result;
  };
  return (path) => lookup(stripRoot(path));
}

/**
 * The numeric owner a `--chown` value names, as BuildKit resolves it: `user`, `user:group`, or
 * `:group`, each part a number or a name looked up in the destination image's /etc/passwd and
 * /etc/group. A numeric user alone means that number for the group too; a named user alone brings
 * its primary group. `readRootfsFile` reads a file of that image (e.g. SourceTree.readFile).
 */
export async function resolveChown(spec: string, readRootfsFile: RootfsFileReader): Promise<Ownership> {
  const colon = spec.indexOf(':');
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? '' : spec.slice(colon + 1);
  if (user === '' && group === '') throw new ChownError(`invalid --chown value "${spec}": expected USER[:GROUP] or :GROUP`);
  let uid = 0;
  let gid = 0;
  if (user !== '') {
    if (isNumeric(user)) {
      uid = gid = chownId(user, spec);
    } else {
      const users = await readPasswd(readRootfsFile);
      const entry = users?.find((candidate) => candidate.name === user);
      if (!entry) throw new ChownError(notFoundMessage('user', user, users));
      uid = chownId(entry.uid, spec);
      gid = chownId(entry.gid, spec);
    }
  }
  if (group !== '') {
    if (isNumeric(group)) {
      gid = chownId(group, spec);
    } else {
      const groups = await readGroups(readRootfsFile);
      const entry = groups?.find((candidate) => candidate.name === group);
      if (!entry) throw new ChownError(notFoundMessage('group', group, groups));
      gid = chownId(entry.gid, spec);
    }
  }
  return { uid, gid };
}

function chownId(value: string, spec: string): number {
  const id = parseId(value);
  if (id === undefined) throw new ChownError(`invalid --chown value "${spec}": "${value}" is not a valid user or group id`);
  return id;
}

function stripRoot(path: string): string {
  return splitPath(path).join('/');
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function join2(parent: string, child: string): string {
  if (child === '') return parent;
  return parent === '' ? child : `${parent}/${child}`;
}
