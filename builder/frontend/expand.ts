// Variable expansion at dispatch time, as BuildKit's dockerfile2llb does it: each
// instruction's words are expanded just before the instruction runs, with the stage's
// environment at that point (base image ENV, ENV so far, ARGs in scope).
//
// Which instructions expand what (BuildKit's SupportsSingleWordExpansion and friends):
//   FROM        image and --platform: expandWord, with the meta ARGs only (ARGs before
//               the first FROM, overridden by --build-arg), not the stage env
//   ARG         name and default: expandWord (all with the env before the instruction;
//               meta ARGs are the exception: BuildKit expands those one by one, each
//               default seeing the ones before it, so call expandWord per arg there)
//   ENV, LABEL  every key and value: expandWord, all against the env before the
//               instruction (`ENV A=1 B=$A` gives B the old A)
//   COPY, ADD   sources, destination, --chown, --chmod (ADD: --checksum): expandWord;
//               heredoc bodies with an unquoted delimiter: expandHeredocBody (quotes
//               kept), after which the file says `expand: false`; --from is never expanded (rejected by the parser), --exclude
//               patterns are not expanded
//   EXPOSE      each word: expandWords, the only instruction that splits into fields
//               (`EXPOSE $PORTS` with PORTS="80 443" exposes two ports)
//   VOLUME      each path (already split by the parser): expandWord
//   USER, WORKDIR, STOPSIGNAL: expandWord
//   RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD: nothing; the shell
//               expands RUN commands and RUN heredoc bodies when they run. RUN --mount
//               field values are expanded (expandWord each value) by whoever parses
//               the mount specs.

import { DockerfileSyntaxError, ExpansionError } from './errors.js';
import type { Instruction, KeyValue } from './instructions.js';
import { lexWord, type EnvLookup, type LexResult } from './shell-lexer.js';

export type { EnvLookup };

/**
 * Expands one word the way BuildKit's ProcessWord does: quotes removed, escapes
 * applied, `$V`/`${V}`/`${V:-w}`/`${V-w}`/`${V:+w}`/`${V+w}`/`${V:?m}`/`${V?m}`/
 * `${V#p}`/`${V%p}`/`${V/p/r}` substituted; blanks inside the word are kept.
 * Throws ExpansionError.
 */
export function expandWord(word: string, lookup: EnvLookup, escapeToken = '\\'): string {
  return lexWord(word, lookup, { escapeToken }).result;
}

/**
 * Expands and splits into fields like BuildKit's ProcessWords: unquoted blanks,
 * including blanks produced by a substitution, separate fields; empty fields vanish.
 */
export function expandWords(word: string, lookup: EnvLookup, escapeToken = '\\'): string[] {
  return lexWord(word, lookup, { escapeToken }).words;
}

/** expandWord, also reporting which variable names were found and which were not set. */
export function expandWordWithMatches(word: string, lookup: EnvLookup, escapeToken = '\\'): LexResult {
  return lexWord(word, lookup, { escapeToken });
}

/**
 * A step's name as BuildKit's progress shows it: the instruction line with variables that are set
 * substituted, quotes kept as written, unset ones left alone, the keyword upper-cased; the line as
 * written when it does not lex.
 */
export function expandStepName(line: string, lookup: EnvLookup, escapeToken = '\\'): string {
  let name = line;
  try {
    name = lexWord(line, lookup, { escapeToken, rawQuotes: true, skipUnsetEnv: true }).result;
  } catch {
    // BuildKit shows such a line unexpanded, and the instruction itself reports the problem.
  }
  const space = name.indexOf(' ');
  return space < 0 ? name.toUpperCase() : name.slice(0, space).toUpperCase() + name.slice(space);
}

/**
 * Expands `$VARS` in a COPY/ADD heredoc body (unquoted delimiter): quotes are kept
 * as written and `\` escapes, whatever the escape directive, as BuildKit's ExpandRaw.
 */
export function expandHeredocBody(content: string, lookup: EnvLookup): string {
  return lexWord(content, lookup, { escapeToken: '\\', skipProcessQuotes: true }).result;
}

/**
 * Returns a copy of the instruction with every word Docker expands expanded (see the
 * table at the top of this file); other instructions are returned unchanged. An
 * expansion error becomes a DockerfileSyntaxError at the instruction's line.
 */
export function expandInstruction<T extends Instruction>(instruction: T, lookup: EnvLookup, escapeToken = '\\', file = 'Dockerfile'): T {
  const word = (w: string): string => expandWord(w, lookup, escapeToken);
  const optional = (w: string | undefined): string | undefined => (w === undefined ? undefined : word(w));
  const pairs = (list: KeyValue[]): KeyValue[] => list.map((p) => ({ key: word(p.key), value: word(p.value) }));
  try {
    const i: Instruction = instruction;
    switch (i.kind) {
      case 'FROM':
        return withOptional({ ...i, image: word(i.image) }, { platform: optional(i.platform) }) as T;
      case 'ARG':
        return {
          ...i,
          args: i.args.map((a) => (a.default === undefined ? { name: word(a.name) } : { name: word(a.name), default: word(a.default) })),
        } as T;
      case 'ENV':
      case 'LABEL':
        return { ...i, pairs: pairs(i.pairs) } as T;
      case 'COPY':
      case 'ADD': {
        const expanded = {
          ...i,
          sources: i.sources.map(word),
          destination: word(i.destination),
          // once expanded a body is final: `expand: false` keeps anyone from expanding it twice
          inlineFiles: i.inlineFiles.map((f) => (f.expand ? { ...f, content: expandHeredocBody(f.content, lookup), expand: false } : f)),
        };
        const flags: Record<string, string | undefined> = { chown: optional(i.chown), chmod: optional(i.chmod) };
        if (i.kind === 'ADD') flags['checksum'] = optional(i.checksum);
        return withOptional(expanded, flags) as T;
      }
      case 'EXPOSE':
        return { ...i, ports: i.ports.flatMap((p) => expandWords(p, lookup, escapeToken)) } as T;
      case 'VOLUME':
        return { ...i, volumes: i.volumes.map(word) } as T;
      case 'USER':
        return { ...i, user: word(i.user) } as T;
      case 'WORKDIR':
        return { ...i, path: word(i.path) } as T;
      case 'STOPSIGNAL':
        return { ...i, signal: word(i.signal) } as T;
      default:
        return instruction;
    }
  } catch (err) {
    if (err instanceof ExpansionError) throw new DockerfileSyntaxError(file, instruction.line, err.message);
    throw err;
  }
}

// Sets optional string fields that were present before expansion, leaving absent ones absent.
function withOptional<T extends object>(target: T, fields: Record<string, string | undefined>): T {
  const out = { ...target } as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}

/** A lookup over a plain map (e.g. `{ PATH: '/bin' }`), for callers that keep env as an object. */
export function lookupFrom(env: ReadonlyMap<string, string> | Readonly<Record<string, string>>): EnvLookup {
  if (env instanceof Map) return (name) => env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined);
}
