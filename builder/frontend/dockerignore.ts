// .dockerignore with Docker's semantics: moby/patternmatcher (ignorefile.ReadAll to
// read the file, PatternMatcher.MatchesOrParentMatches to match) and the directory
// pruning rule of tonistiigi/fsutil's walker.

import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface Pattern {
  /** the cleaned pattern without its `!` */
  text: string;
  exclusion: boolean;
  match: (p: string) => boolean;
}

/** The rules of one .dockerignore file. */
export class DockerIgnore {
  private constructor(
    /** the patterns as Docker reads them: cleaned, leading `/` dropped, `!` kept */
    readonly patterns: readonly string[],
    private readonly compiled: readonly Pattern[],
    /** the file they came from, if any */
    readonly source?: string,
  ) {}

  /** No rules: nothing is excluded. */
  static readonly empty = new DockerIgnore([], []);

  /** Reads .dockerignore text; throws on a malformed pattern (`!` alone, `[a`), as Docker does. */
  static parse(text: string, source?: string): DockerIgnore {
    const patterns = readPatterns(text);
    return new DockerIgnore(patterns, patterns.map(compilePattern), source);
  }

  /** Is this path (relative to the context, `/`-separated) left out of the build context? */
  isExcluded(relativePath: string): boolean {
    if (this.compiled.length === 0) return false;
    const file = goClean(relativePath.replace(/^\/+/, ''));
    if (file === '.') return false; // the context root itself is never excluded
    const parentDirs = goDir(file).split('/');
    const hasParent = goDir(file) !== '.';
    let matched = false;
    for (const pattern of this.compiled) {
      // an inclusion cannot change an already-excluded path, nor an exclusion an included one
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(file);
      if (!match && hasParent) {
        for (let i = 0; i < parentDirs.length && !match; i++) match = pattern.match(parentDirs.slice(0, i + 1).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * Could a `!` pattern re-include something below this directory? A walker can skip
   * an excluded directory when this is false. Conservative: any `!` pattern with a
   * wildcard or escape answers true (fsutil walks such directories too).
   */
  mayIncludeBelow(dirPath: string): boolean {
    const dir = goClean(dirPath.replace(/^\/+/, ''));
    for (const pattern of this.compiled) {
      if (!pattern.exclusion) continue;
      if (/[*?[\\]/.test(pattern.text)) return true;
      if (dir === '.' || `${pattern.text}/`.startsWith(`${dir}/`)) return true;
    }
    return false;
  }
}

/**
 * The .dockerignore that applies to a build: `<Dockerfile>.dockerignore` beside the
 * Dockerfile if there is one, else `<context>/.dockerignore`, else no rules.
 */
export async function dockerignoreFor(contextDir: string, dockerfilePath?: string): Promise<DockerIgnore> {
  const candidates = [
    ...(dockerfilePath !== undefined ? [path.resolve(dockerfilePath) + '.dockerignore'] : []),
    path.join(path.resolve(contextDir), '.dockerignore'),
  ];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw err;
    }
    try {
      return DockerIgnore.parse(text, candidate);
    } catch (err) {
      throw new Error(`${candidate}: ${(err as Error).message}`);
    }
  }
  return DockerIgnore.empty;
}

// ignorefile.ReadAll: `#` in column 0 is a comment, blanks are trimmed, paths are
// cleaned and made relative (`/foo` → `foo`), `!` is kept in front.
function readPatterns(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let line of lines) {
    line = line.replace(/\r$/, '');
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern[0] === '!';
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern[0] === '/') pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  }
  return out;
}

// patternmatcher.New + Pattern.compile.
function compilePattern(raw: string): Pattern {
  let p = goClean(raw.trim());
  let exclusion = false;
  if (p[0] === '!') {
    if (p.length === 1) throw new Error('illegal exclusion pattern: "!"');
    exclusion = true;
    p = p.slice(1);
  }
  if (!isValidGlob(p)) throw new Error(`syntax error in pattern: ${p}`);

  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  const chars = Array.from(p);
  for (let i = 0, k = 0; k < chars.length; i++) {
    const ch = chars[k++]!;
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++; // `**/` is `**`
        if (k === chars.length) {
          // a trailing `**` matches everything below, as in .gitignore
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if ('.+()|{}$'.includes(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      if (k < chars.length) {
        re += '\\' + chars[k++]!;
        type = 'regexp';
      } else {
        re += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }

  let match: (file: string) => boolean;
  switch (type) {
    case 'exact':
      match = (file) => file === p;
      break;
    case 'prefix': {
      const prefix = p.slice(0, -2);
      match = (file) => file.startsWith(prefix);
      break;
    }
    case 'suffix': {
      const suffix = p.slice(2);
      match = (file) => file.endsWith(suffix) || (suffix[0] === '/' && file === suffix.slice(1));
      break;
    }
    case 'regexp': {
      const regexp = goRegExpToJs(re + '$');
      match = (file) => regexp.test(file);
      break;
    }
  }
  return { text: p, exclusion, match };
}

/**
 * patternmatcher builds a Go (RE2) expression; this carries it over to a JS RegExp.
 * The differences that matter here: a `]` outside a class and a `[` inside one are
 * literals in RE2, and RE2 accepts escapes (`\!`) that a unicode-mode JS RegExp rejects.
 */
function goRegExpToJs(source: string): RegExp {
  const c = Array.from(source);
  let out = '';
  let inClass = false;
  const escape = (ch: string): string => {
    if (/^[dDsSwW]$/.test(ch)) return '\\' + ch;
    if ('^$\\.*+?()[]{}|/'.includes(ch)) return '\\' + ch;
    return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
  };
  for (let i = 0; i < c.length; i++) {
    const ch = c[i]!;
    if (ch === '\\' && i + 1 < c.length) {
      out += escape(c[++i]!);
    } else if (!inClass && ch === '[') {
      inClass = true;
      out += '[';
      if (c[i + 1] === '^') out += c[++i]!;
      if (c[i + 1] === ']') out += escape(c[++i]!); // `[]...]`: a leading ] is literal
    } else if (inClass && ch === ']') {
      inClass = false;
      out += ']';
    } else if (inClass && ch === '[') {
      out += '\\[';
    } else if (!inClass && ch === ']') {
      out += '\\]';
    } else {
      out += ch;
    }
  }
  return new RegExp(out, 'u');
}

// The syntax check filepath.Match applies: classes closed and non-empty, ranges with
// both ends, `-` and `]` escaped where they would be ambiguous, no trailing `\`.
function isValidGlob(p: string): boolean {
  const c = Array.from(p);
  const esc = (j: number): number => {
    if (j >= c.length || c[j] === '-' || c[j] === ']') return -1;
    if (c[j] === '\\') {
      j++;
      if (j >= c.length) return -1;
    }
    j++;
    return j >= c.length ? -1 : j;
  };
  for (let i = 0; i < c.length; ) {
    const ch = c[i]!;
    if (ch === '\\') {
      if (i + 1 >= c.length) return false;
      i += 2;
    } else if (ch === '[') {
      i++;
      if (c[i] === '^') i++;
      for (let ranges = 0; ; ranges++) {
        if (c[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        i = esc(i);
        if (i < 0) return false;
        if (c[i] === '-') {
          i = esc(i + 1);
          if (i < 0) return false;
        }
      }
    } else {
      i++;
    }
  }
  return true;
}

/** Go's path.Clean: collapses `//`, `.` and `..`; '' becomes '.'. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

function goDir(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash < 0 ? '.' : goClean(p.slice(0, slash + 1));
}
