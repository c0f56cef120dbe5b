// Instruction flags (`COPY --from=x`, `RUN --mount=...`): how BuildKit cuts them off
// the front of an instruction (parser/split_command.go) and checks them against the
// flags each instruction declares (instructions/bflag.go).

import { InvalidInstructionError } from './errors.js';
import { isGoSpace } from './shell-lexer.js';
import { WordSplitter } from './word-splitter.js';

/**
 * Splits leading `--flag[=value]` words from an instruction's arguments. Quotes and
 * `\` are removed inside flags (always `\`, whatever the escape directive); a lone
 * `--` ends the flags.
 */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const chars = Array.from(line);
  const split = new WordSplitter();
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    const ch = atEnd ? '' : chars[pos]!;
    if (split.phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || chars[pos + 1] !== '-') return { flags: split.words, rest: chars.slice(pos).join('') };
      split.phase = 'word';
    }
    if (atEnd) {
      if (split.word !== '--') split.endWord();
      break;
    }
    if (split.phase === 'word') {
      if (isGoSpace(ch)) {
        if (split.word === '--') return { flags: split.words, rest: chars.slice(pos).join('') };
        split.endWord();
        continue;
      }
      if (ch === "'" || ch === '"') {
        split.openQuote(ch);
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === chars.length) continue; // a trailing \ is dropped
        pos++;
        split.word += chars[pos]!;
        continue;
      }
      split.word += ch;
      continue;
    }
    // inside quotes
    if (ch === split.quote) {
      split.phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === chars.length) {
        split.phase = 'word';
        continue;
      }
      pos++;
      split.word += chars[pos]!;
      continue;
    }
    split.word += ch;
  }
  return { flags: split.words, rest: '' };
}

type FlagKind = 'bool' | 'string' | 'strings';

/** The flags one instruction accepts; `parse()` fills them in or throws BuildKit's message. */
export class InstructionFlags {
  private readonly declared = new Map<string, FlagKind>();
  private readonly values = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();

  constructor(private readonly args: string[]) {}

  bool(name: string): this {
    this.declared.set(name, 'bool');
    return this;
  }

  string(name: string): this {
    this.declared.set(name, 'string');
    return this;
  }

  strings(name: string): this {
    this.declared.set(name, 'strings');
    return this;
  }

  parse(): this {
    const used = new Set<string>();
    for (const arg of this.args) {
      if (!arg.startsWith('--')) throw new InvalidInstructionError(`Arg should start with -- : ${arg}`);
      if (arg === '--') return this;
      let name = arg.slice(2);
      let value = '';
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const kind = this.declared.get(name);
      if (kind === undefined) throw new InvalidInstructionError(`Unknown flag: ${name}`);
      if (used.has(name) && kind !== 'strings') throw new InvalidInstructionError(`Duplicate flag specified: ${name}`);
      used.add(name);
      switch (kind) {
        case 'bool': {
          if (eq >= 0 && value === '') throw new InvalidInstructionError(`Missing a value on flag: ${name}`);
          const lower = value.toLowerCase();
          if (lower === '') this.values.set(name, 'true');
          else if (lower === 'true' || lower === 'false') this.values.set(name, lower);
          else throw new InvalidInstructionError(`Expecting boolean value for flag ${name}, not: ${value}`);
          break;
        }
        case 'string':
          if (eq < 0) throw new InvalidInstructionError(`Missing a value on flag: ${name}`);
          this.values.set(name, value);
          break;
        case 'strings':
          if (eq < 0) throw new InvalidInstructionError(`Missing a value on flag: ${name}`);
          this.lists.set(name, [...(this.lists.get(name) ?? []), value]);
          break;
      }
    }
    return this;
  }

  /** The value of a string flag, undefined when the flag was not given. */
  value(name: string): string | undefined {
    return this.values.get(name);
  }

  /** A bool flag: true, false, or undefined when not given. */
  isSet(name: string): boolean | undefined {
    const v = this.values.get(name);
    return v === undefined ? undefined : v === 'true';
  }

  list(name: string): string[] {
    return this.lists.get(name) ?? [];
  }
}
