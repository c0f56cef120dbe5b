// Docker's word lexer: quote removal, escapes and `$VAR` / `${VAR...}` substitution,
// a port of moby/buildkit frontend/dockerfile/shell/lex.go (same options, same errors,
// same oddities). expand.ts builds the instruction-level API on top of it; the parser
// uses it raw (RawQuotes/RawEscapes/SkipUnsetEnv) to find heredoc words.

import { ExpansionError } from './errors.js';

/** Value of a variable, or undefined when it is not set (set-but-empty is ''). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** `\` by default, `` ` `` after `# escape=` */
  escapeToken: string;
  /** keep quote characters in the result (BuildKit RawQuotes) */
  rawQuotes?: boolean;
  /** keep escape tokens in the result (BuildKit RawEscapes) */
  rawEscapes?: boolean;
  /** treat quotes as ordinary characters (BuildKit SkipProcessQuotes, used for heredoc bodies) */
  skipProcessQuotes?: boolean;
  /** leave references to unset variables as written (BuildKit SkipUnsetEnv) */
  skipUnsetEnv?: boolean;
}

export interface LexResult {
  /** the word with quotes removed and variables substituted (ProcessWord) */
  result: string;
  /** the same, split into fields the way ProcessWords does */
  words: string[];
  /** variables that were looked up and found */
  matched: Set<string>;
  /** variables that were looked up and not set */
  unmatched: Set<string>;
}

/** Lexes one word; throws ExpansionError with BuildKit's message on a bad word. */
export function lexWord(word: string, lookup: EnvLookup, options: LexOptions): LexResult {
  const lexer = new ShellWord(word, lookup, options);
  try {
    const [result, words] = lexer.processStopOn(EOF, lexer.rawEscapes);
    return { result, words, matched: lexer.matched, unmatched: lexer.unmatched };
  } catch (err) {
    if (err instanceof LexFailure) throw new ExpansionError(word, err.message);
    throw err;
  }
}

const EOF = null;
type Char = string | null;

class LexFailure extends Error {}

/** Go's unicode.IsSpace (the White_Space property). */
export function isGoSpace(ch: string): boolean {
  return /^\p{White_Space}$/u.test(ch);
}
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);

/** Collects fields as the lexer goes (BuildKit's wordsStruct, including its quirks). */
class Fields {
  private word = '';
  private inWord = false;
  private readonly words: string[] = [];

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private readonly escapeToken: string;
  rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    word: string,
    private readonly lookup: EnvLookup,
    private readonly options: LexOptions,
  ) {
    this.chars = Array.from(word);
    this.escapeToken = options.escapeToken;
    this.rawEscapes = options.rawEscapes ?? false;
  }

  private peek(): Char {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }

  private next(): Char {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  /** Processes until `stopChar` (consumed) or the end; returns the word and its fields. */
  processStopOn(stopChar: Char, rawEscapes: boolean): [string, string[]] {
    let result = '';
    const fields = new Fields();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        let ch = this.peek()!;
        if (stopChar !== EOF && ch === stopChar) {
          this.next();
          return [result, fields.finish()];
        }
        const special = this.special(ch);
        if (special) {
          const text = special();
          result += text;
          if (ch === '$') fields.addString(text);
          else fields.addRawString(text);
          continue;
        }
        this.next();
        if (ch === this.escapeToken) {
          if (this.rawEscapes) {
            fields.addRawChar(ch);
            result += ch;
          }
          // the escape token escapes the next character; a trailing one is dropped
          const escaped = this.next();
          if (escaped === EOF) break;
          ch = escaped;
          fields.addRawChar(ch);
        } else {
          fields.addChar(ch);
        }
        result += ch;
      }
      if (stopChar !== EOF) {
        throw new LexFailure(`unexpected end of statement while looking for matching ${stopChar}`);
      }
      return [result, fields.finish()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  private special(ch: string): (() => string) | undefined {
    if (ch === '$') return () => this.processDollar();
    if (ch === '<') return () => this.processPossibleHeredoc();
    if (!this.options.skipProcessQuotes) {
      if (ch === "'") return () => this.processSingleQuote();
      if (ch === '"') return () => this.processDoubleQuote();
    }
    return undefined;
  }

  // `<<` followed by blanks stays one field with the word after it, so that
  // `RUN <<  EOF` is still a heredoc (BuildKit processPossibleHeredoc).
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    for (let c = this.peek(); c !== EOF && isGoSpace(c); c = this.peek()) {
      space += c;
      this.next();
    }
    return '<<' + space;
  }

  // Everything up to the next ' is literal; a ' cannot be escaped inside.
  private processSingleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  // Literal up to the next ", except $ substitutions; the escape token only
  // escapes ", $ and itself (otherwise it is kept).
  private processDoubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.next();
        if (this.options.rawQuotes) result += p;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escapeToken) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue; // a trailing escape is ignored
        if (after === '"' || after === '$' || after === this.escapeToken) ch = this.next()!;
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, found] = this.getEnv(name);
      if (!found && this.options.skipUnsetEnv) return '$' + name;
      return value;
    }

    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexFailure('syntax error: bad substitution');

    const name = this.processName();
    let ch = this.next();
    let chs = ch ?? '\uFFFD'; // Go prints EOF as the replacement character
    let nullIsUnset = false;

    if (ch === '}') {
      const [value, set] = this.getEnv(name);
      if (!set && this.options.skipUnsetEnv) return `\${${name}}`;
      return value;
    }

    if (ch === ':' || ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      if (ch === ':') {
        // `${X:` takes whatever character follows as the modifier (Go's fallthrough)
        nullIsUnset = true;
        ch = this.next();
        chs += ch ?? '\uFFFD';
      }
      const rawEscapes = ch === '#' || ch === '%';
      let word: string;
      try {
        [word] = this.processStopOn('}', rawEscapes);
      } catch (err) {
        if (err instanceof LexFailure && this.peek() === EOF) throw new LexFailure("syntax error: missing '}'");
        throw err;
      }

      const [value, set] = this.getEnv(name);
      if (this.options.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;

      switch (ch) {
        case '-':
          return !set || (nullIsUnset && value === '') ? word : value;
        case '+':
          return !set || (nullIsUnset && value === '') ? '' : word;
        case '?':
          if (!set) throw new LexFailure(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new LexFailure(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
          return value;
        case '%':
        case '#': {
          // `%`/`#` remove the shortest match, `%%`/`##` the longest
          let greedy = false;
          if (word.length > 0 && word[0] === ch) {
            greedy = true;
            word = word.slice(1);
          }
          return ch === '%' ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
        }
        default:
          throw new LexFailure(`unsupported modifier (${chs}) in substitution`);
      }
    }

    if (ch === '/') {
      const replaceAll = this.peek() === '/';
      if (replaceAll) this.next();
      let pattern: string;
      try {
        [pattern] = this.processStopOn('/', true);
      } catch (err) {
        if (err instanceof LexFailure && this.peek() === EOF) throw new LexFailure("syntax error: missing '/' in ${}");
        throw err;
      }
      let replacement: string;
      try {
        [replacement] = this.processStopOn('}', true);
      } catch (err) {
        if (err instanceof LexFailure && this.peek() === EOF) throw new LexFailure("syntax error: missing '}'");
        throw err;
      }
      const [value, set] = this.getEnv(name);
      if (this.options.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
      const re = shellPatternToRegExp(pattern, true, false, replaceAll);
      if (replaceAll) return value.replace(re, () => replacement);
      const m = re.exec(value);
      return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
    }

    throw new LexFailure(`unsupported modifier (${chs}) in substitution`);
  }

  // A name is letters, digits and _; a leading digit run or one special
  // parameter character ($@ $* $# $? $- $$ $! $0) is a name by itself.
  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== EOF; ch = this.peek()) {
      if (name === '' && isDigit(ch)) {
        for (let d = this.peek(); d !== EOF && isDigit(d); d = this.peek()) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) {
        this.next();
        return ch;
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private getEnv(name: string): [string, boolean] {
    const value = this.lookup(name);
    if (value !== undefined) {
      this.matched.add(name);
      return [value, true];
    }
    this.unmatched.add(name);
    return ['', false];
  }
}

/**
 * A `${X#pat}` / `${X/pat/rep}` shell pattern as a RegExp: `*` any run, `?` one
 * character, `\` escapes `*`, `?` and `\` (and is dropped before `}` and `/`).
 */
function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? '.*' : '.*?';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    switch (tok) {
      case '*':
        out += star;
        continue;
      case '?':
        out += '.';
        continue;
      case '\\': {
        const nextTok = chars[i + 1];
        if (nextTok === '}' || nextTok === '/') continue;
        if (nextTok !== '*' && nextTok !== '?' && nextTok !== '\\') {
          throw new LexFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nextTok ?? '\uFFFD'}'`);
        }
        out += '\\' + nextTok;
        i++;
        continue;
      }
      case '[': case ']': case '{': case '}': case '.': case '+':
      case '(': case ')': case '|': case '^': case '$':
        out += '\\' + tok;
        continue;
      default:
        out += tok;
    }
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

// Regular expressions cannot find the shortest rightmost match, so both the
// pattern and the value are reversed and the prefix is trimmed instead.
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Reverses a pattern keeping each `\x` escape pair in order: `a\*c` → `c\*a`. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = chars[i]!;
    const outIdx = last - i;
    if (tok === '\\' && i !== last) {
      out[outIdx - 1] = tok;
      out[outIdx] = chars[i + 1]!;
      i += 2;
    } else {
      out[outIdx] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}
