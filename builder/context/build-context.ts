import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileEntry } from '../../shared/layer/layer-entry.js';
import { dockerignoreFor } from '../frontend/dockerignore.js';
import { fileStamp } from './file-stamp.js';
import { resolveInRoot } from './resolve-in-root.js';

/**
 * What selecting files needs from a parsed .dockerignore (builder/frontend/dockerignore.ts's
 * DockerIgnore has this shape): whether a context-relative path is excluded, with Docker's rules
 * (a path under an excluded directory is excluded unless a `!` pattern takes it back), and whether
 * a `!` pattern may re-include something below an excluded directory.
 */
export interface IgnoreRules {
  isExcluded(relativePath: string): boolean;
  mayIncludeBelow(dirPath: string): boolean;
}

/** The build context at `contextDir` with the .dockerignore that applies to `dockerfilePath` (`<Dockerfile>.dockerignore`, else the context's). */
export async function openBuildContext(contextDir: string, dockerfilePath?: string): Promise<SourceTree> {
  return SourceTree.context(contextDir, await dockerignoreFor(contextDir, dockerfilePath));
}

/** One file, directory or link of a COPY/ADD source, with the metadata it is copied with. */
export interface SourceEntry {
  /** Relative to the copied item, '/'-separated; '' is the item itself. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'whiteout' | 'opaque';
  /** Permission bits with setuid/setgid/sticky (0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Bytes of a file; 0 otherwise. */
  readonly size: number;
  /** Where a file's bytes are. */
  readonly source?: FileEntry['source'];
  /** A symlink's target as stored; a hardlink's target as a path relative to the copied item. */
  readonly target?: string;
  /** `dev:ino` of a file with several links: files sharing it stay hardlinked when copied together. */
  readonly inode?: string;
  /** A file's metadata that changes whenever its content does (fileStamp): what lets caches skip reading it. */
  readonly stamp?: string;
  readonly xattrs?: Readonly<Record<string, Buffer>>;
}

/** One item a COPY/ADD source resolved to: a file, a directory whose contents are copied, or (ADD) an archive to extract. */
export interface ResolvedSource {
  /** The source as written in the Dockerfile. */
  readonly pattern: string;
  /** Where it was found: a path relative to the tree root ('' for the root), or a URL. */
  readonly path: string;
  /** The name a file gets when copied into a directory: the last component of `path` (before symlinks are followed). */
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'archive';
  /** `file`: the file at path ''. `directory`: the directory at '' then its contents, parents first. `archive`: the archive's entries. */
  readonly entries: readonly SourceEntry[];
  /** Index of the pattern this came from; hardlinks are kept only between items of one pattern, as BuildKit does. */
  readonly group: number;
}

/** Where a source tree comes from; names it in errors. */
export type SourceOrigin = { readonly kind: 'context' } | { readonly kind: 'stage' | 'image'; readonly name: string };

/** Options of resolveSources(). */
export interface ResolveOptions {
  /** Names the instruction in errors (default COPY). */
  readonly instruction?: 'COPY' | 'ADD';
}

/** A COPY/ADD source that cannot be used: missing (or excluded), outside the context, or of a type layers cannot hold. */
export class CopySourceError extends Error {
  override readonly name = 'CopySourceError';

  constructor(
    /** The source as written, or the path that failed. */
    readonly source: string,
    readonly reason: 'not-found' | 'outside-context' | 'unsupported-type' | 'symlink-loop',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A directory COPY/ADD reads from: the build context (with its .dockerignore; owners reset to 0:0
 * as BuildKit's context transfer does) or another stage's or image's root filesystem (owners kept).
 * Sources resolve as BuildKit resolves them: relative to the root, symlinks followed without ever
 * leaving the root (an absolute target restarts at the root, `..` stops there).
 */
export class SourceTree {
  private readonly includedBelow = new Map<string, Promise<boolean>>();

  private constructor(
    /** The host directory. */
    readonly root: string,
    readonly origin: SourceOrigin,
    private readonly ignore: IgnoreRules | undefined,
  ) {}

  /** The build context at `dir`, filtered by `ignore` (the context's .dockerignore, if any). */
  static context(dir: string, ignore?: IgnoreRules): SourceTree {
    return new SourceTree(dir, { kind: 'context' }, ignore);
  }

  /** A stage's or image's root filesystem unpacked at `dir` (for `COPY --from`). */
  static rootfs(dir: string, origin: { kind: 'stage' | 'image'; name: string }): SourceTree {
    return new SourceTree(dir, origin, undefined);
  }

  /**
   * Every entry below `from` (root-relative; '' for all), parents before children, names in byte
   * order, paths root-relative. Excluded directories are not entered unless a `!` pattern may
   * re-include something below them; such a directory is listed only when something below it is.
   */
  async walk(from = ''): Promise<SourceEntry[]> {
    const start = cleanRelative(from);
    const out: SourceEntry[] = [];
    await this.collect(start, '', out, 'COPY');
    return out;
  }

  /**
   * The items COPY/ADD sources name, in order: paths relative to the root (a leading '/' is the
   * root), wildcards matched per path segment as Go's filepath.Match does (`**` is just `*`), a
   * directory standing for its contents, a symlink source followed inside the tree. A wildcard
   * matching nothing yields nothing (as in BuildKit); a missing plain source is an error.
   */
  async resolveSources(patterns: readonly string[], options: ResolveOptions = {}): Promise<ResolvedSource[]> {
    const instruction = options.instruction ?? 'COPY';
    const out: ResolvedSource[] = [];
    for (const [group, pattern] of patterns.entries()) {
      if (/^https?:\/\//i.test(pattern)) throw new TypeError(`URL source "${pattern}" is ADD's to download (add-source.ts), not a path in a tree`);
      const clean = this.cleanPattern(pattern, instruction);
      const [fixed, wild] = splitWildcards(clean);
      if (wild.length === 0) {
        out.push(await this.resolveItem(pattern, clean, pattern, group, instruction));
        continue;
      }
      const base = await this.resolvePath(fixed, true);
      if (!('stats' in base) || !base.stats.isDirectory()) throw this.notFound(pattern, fixed === '' ? '/' : fixed, instruction);
      for (const match of await this.matchWildcard(base.path, wild)) {
        out.push(await this.resolveItem(pattern, match, match, group, instruction));
      }
    }
    return out;
  }

  /**
   * The bytes of a regular file of the tree (`/etc/passwd`), symlinks followed inside the tree;
   * undefined when it is missing, excluded or not a regular file. For resolveChown.
   */
  async readFile(path: string): Promise<Buffer | undefined> {
    const resolved = await this.resolvePath(cleanRelative(path), true);
    if (!('stats' in resolved) || !resolved.stats.isFile()) return undefined;
    return readFile(join(this.root, resolved.path));
  }

  /**
   * The host path of a path of the tree, symlinks followed inside the tree: for RUN --mount=type=bind.
   * Undefined when it is missing or excluded.
   */
  async hostPath(path: string): Promise<string | undefined> {
    const resolved = await this.resolvePath(cleanRelative(path), true);
    return 'stats' in resolved ? join(this.root, resolved.path) : undefined;
  }

  /** The pattern as a clean root-relative path; `..` above the root is an error in the context and stops at the root elsewhere. */
  private cleanPattern(pattern: string, instruction: string): string {
    const parts: string[] = [];
    for (const part of pattern.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (parts.length === 0) {
          if (this.origin.kind === 'context') {
            throw new CopySourceError(pattern, 'outside-context', `${instruction} failed: forbidden path outside the build context: ${pattern}`);
          }
          continue;
        }
        parts.pop();
        continue;
      }
      parts.push(part);
    }
    return parts.join('/');
  }

  private async resolveItem(pattern: string, path: string, shown: string, group: number, instruction: string): Promise<ResolvedSource> {
    const resolved = await this.resolvePath(path, true);
    if (!('stats' in resolved)) {
      const detail = resolved.viaSymlink ? ` (a symlink leading to /${resolved.missing})` : '';
      throw this.notFound(shown, shown + detail, instruction);
    }
    const name = path === '' ? '' : path.slice(path.lastIndexOf('/') + 1);
    const hostPath = join(this.root, resolved.path);
    const top = await this.entryOf('', hostPath, resolved.stats, instruction, shown);
    if (!top) throw new CopySourceError(shown, 'unsupported-type', `${instruction} failed: ${shown} is a socket, which cannot be copied`);
    if (top.type === 'directory') {
      const entries: SourceEntry[] = [top];
      await this.collect(resolved.path, resolved.path, entries, instruction);
      return { pattern, path, name, kind: 'directory', entries, group };
    }
    return { pattern, path, name, kind: 'file', entries: [top], group };
  }

  private notFound(source: string, statPath: string, instruction: string): CopySourceError {
    const where = this.origin.kind === 'context' ? 'build context or excluded by .dockerignore' : `${this.origin.kind} "${this.origin.name}"`;
    return new CopySourceError(source, 'not-found', `${instruction} failed: file not found in ${where}: stat ${statPath}: file does not exist`);
  }

  /** Appends the entries below root-relative `dir`, with paths relative to `base`. */
  private async collect(dir: string, base: string, out: SourceEntry[], instruction: string): Promise<void> {
    // Synchronous on purpose: a context has tens of thousands of entries whose metadata is cached,
    // and a readdir or lstat through the thread pool costs ten times the call itself (a warm rebuild is mostly this).
    const names = sortBytes(readdirSync(join(this.root, dir)));
    const children = names.map((name) => {
      const path = dir === '' ? name : `${dir}/${name}`;
      return { path, stats: lstatIfPresent(join(this.root, path)) };
    });
    for (const { path, stats } of children) {
      if (!stats) continue;
      const excluded = this.ignore?.isExcluded(path) ?? false;
      const relative = base === '' ? path : path.slice(base.length + 1);
      if (stats.isDirectory()) {
        if (excluded && !this.ignore!.mayIncludeBelow(path)) continue;
        const below: SourceEntry[] = [];
        await this.collect(path, base, below, instruction);
        if (excluded && below.length === 0) continue;
        out.push((await this.entryOf(relative, join(this.root, path), stats, instruction, path))!, ...below);
      } else if (!excluded) {
        const entry = await this.entryOf(relative, join(this.root, path), stats, instruction, path);
        if (entry) out.push(entry);
      }
    }
  }

  /** The entry for one host path; undefined for sockets, which tar cannot hold (Docker skips them too). */
  private async entryOf(path: string, hostPath: string, stats: Stats, instruction: string, shown: string): Promise<SourceEntry | undefined> {
    const context = this.origin.kind === 'context';
    const uid = context ? 0 : stats.uid;
    const gid = context ? 0 : stats.gid;
    const mode = stats.mode & 0o7777;
    const mtime = Math.floor(stats.mtimeMs / 1000);
    if (stats.isFile()) {
      const entry: SourceEntry = { path, type: 'file', mode, uid, gid, mtime, size: stats.size, source: { file: hostPath }, stamp: fileStamp(stats) };
      return stats.nlink > 1 ? { ...entry, inode: `${stats.dev}:${stats.ino}` } : entry;
    }
    if (stats.isDirectory()) return { path, type: 'directory', mode, uid, gid, mtime, size: 0 };
    if (stats.isSymbolicLink()) return { path, type: 'symlink', mode, uid, gid, mtime, size: 0, target: await readlink(hostPath) };
    if (stats.isSocket()) return undefined;
    const kind = stats.isFIFO() ? 'a named pipe' : 'a device';
    throw new CopySourceError(shown, 'unsupported-type', `${instruction} failed: ${shown} is ${kind}; only files, directories and symlinks can be copied`);
  }

  /**
   * Follows `path` inside the tree, component by component, as the kernel would in a chroot.
   * Returns the resolved root-relative path and its stats, or the first component that is missing
   * (or excluded, or not a directory where one is needed).
   */
  private async resolvePath(path: string, followFinal: boolean): Promise<{ path: string; stats: Stats } | { missing: string; viaSymlink: boolean }> {
    let stats = await lstat(this.root);
    const { resolved, unresolved, hops } = await resolveInRoot(
      path,
      async ({ path: candidate, last }) => {
        const found = await this.presentStats(candidate);
        if (!found) return 'stop';
        if (found.isSymbolicLink() && (!last || followFinal)) return { follow: await readlink(join(this.root, candidate)) };
        if (!last && !found.isDirectory()) return 'stop';
        stats = found;
        return 'enter';
      },
      () => new CopySourceError(path, 'symlink-loop', `too many levels of symbolic links resolving ${path}`),
    );
    if (unresolved.length > 0) return { missing: [...resolved, ...unresolved].join('/'), viaSymlink: hops > 0 };
    if (resolved.length === 0) stats = await lstat(this.root);
    return { path: resolved.join('/'), stats };
  }

  /** lstat of a root-relative path as the filtered tree has it: undefined when missing or excluded. */
  private async presentStats(path: string): Promise<Stats | undefined> {
    const stats = await lstat(join(this.root, path)).catch(ignoreVanished);
    if (!stats || !this.ignore || !this.ignore.isExcluded(path)) return stats;
    // An excluded directory is still there when something below it is re-included.
    if (stats.isDirectory() && this.ignore.mayIncludeBelow(path) && (await this.hasIncludedBelow(path))) return stats;
    return undefined;
  }

  private hasIncludedBelow(dir: string): Promise<boolean> {
    let answer = this.includedBelow.get(dir);
    if (!answer) {
      answer = (async () => {
        for (const name of await readdir(join(this.root, dir)).catch(() => [] as string[])) {
          const path = `${dir}/${name}`;
          if (!this.ignore!.isExcluded(path)) return true;
          const stats = await lstat(join(this.root, path)).catch(ignoreVanished);
          if (stats?.isDirectory() && this.ignore!.mayIncludeBelow(path) && (await this.hasIncludedBelow(path))) return true;
        }
        return false;
      })();
      this.includedBelow.set(dir, answer);
    }
    return answer;
  }

  /** Root-relative paths below `base` whose path relative to `base` matches the segments, in walk order. */
  private async matchWildcard(base: string, segments: readonly string[]): Promise<string[]> {
    const matchers = segments.map(segmentMatcher);
    const out: string[] = [];
    const visit = async (dir: string, depth: number): Promise<void> => {
      const names = sortBytes(await readdir(join(this.root, dir)).catch(() => [] as string[]));
      for (const name of names) {
        if (!matchers[depth]!(name)) continue;
        const path = dir === '' ? name : `${dir}/${name}`;
        const stats = await this.presentStats(path);
        if (!stats) continue;
        if (depth === matchers.length - 1) out.push(path);
        else if (stats.isDirectory()) await visit(path, depth + 1);
      }
    };
    await visit(base, 0);
    return out;
  }
}

/** Does this path segment hold wildcards (`*`, `?`, `[`), skipping backslash-escaped characters? */
export function containsWildcards(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** Splits a clean relative path into the part before the first segment with wildcards and the segments from there on. */
export function splitWildcards(path: string): [string, string[]] {
  const parts = path === '' ? [] : path.split('/');
  const first = parts.findIndex(containsWildcards);
  if (first === -1) return [path, []];
  return [parts.slice(0, first).join('/'), parts.slice(first)];
}

/**
 * A matcher for one path segment with Go's filepath.Match syntax: `*` (any run of characters), `?`
 * (one character), `[a-z]` / `[^a-z]` classes, `\` escapes. A malformed pattern matches nothing,
 * as BuildKit ignores filepath.Match's ErrBadPattern.
 */
export function segmentMatcher(pattern: string): (name: string) => boolean {
  const regexp = goPatternRegExp(pattern);
  return regexp ? (name) => regexp.test(name) : () => false;
}

function goPatternRegExp(pattern: string): RegExp | undefined {
  const chars = Array.from(pattern);
  const literal = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16)}}`;
  let source = '';
  let i = 0;
  // Go's getEsc: one class character, possibly escaped; '-' and ']' must be escaped, and the class must go on.
  const classChar = (): string | undefined => {
    let c = chars[i];
    if (c === undefined || c === '-' || c === ']') return undefined;
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) return undefined;
    }
    i++;
    return i < chars.length ? c : undefined;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '*') {
      source += '.*';
      i++;
    } else if (c === '?') {
      source += '.';
      i++;
    } else if (c === '\\') {
      if (i + 1 >= chars.length) return undefined;
      source += literal(chars[i + 1]!);
      i += 2;
    } else if (c === '[') {
      i++;
      const negated = chars[i] === '^';
      if (negated) i++;
      const ranges: string[] = [];
      for (let count = 0; ; count++) {
        if (chars[i] === ']' && count > 0) {
          i++;
          break;
        }
        const lo = classChar();
        if (lo === undefined) return undefined;
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          const upper = classChar();
          if (upper === undefined) return undefined;
          hi = upper;
        }
        if (lo.codePointAt(0)! <= hi.codePointAt(0)!) ranges.push(`${literal(lo)}-${literal(hi)}`);
      }
      if (ranges.length === 0) source += negated ? '.' : '(?!)';
      else source += `[${negated ? '^' : ''}${ranges.join('')}]`;
    } else {
      source += literal(c);
      i++;
    }
  }
  return new RegExp(`^${source}$`, 'su');
}

function cleanRelative(path: string): string {
  return path.split('/').filter((part) => part !== '' && part !== '.').join('/');
}

/** Names in byte order of their UTF-8 encoding, as Go sorts directory entries. */
function sortBytes(names: string[]): string[] {
  // UTF-16 order is UTF-8 byte order except around surrogate pairs; only those names need the slow sort.
  if (!names.some((name) => /[\ud800-\uffff]/.test(name))) return names.sort();
  return names
    .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ name }) => name);
}

function lstatIfPresent(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    return ignoreVanished(error as NodeJS.ErrnoException);
  }
}

function ignoreVanished(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
  throw error;
}
