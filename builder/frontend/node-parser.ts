// First pass over a Dockerfile, a port of moby/buildkit frontend/dockerfile/parser:
// parser directives, logical lines (escape-token continuations, comment lines and
// empty lines inside continuations), keyword + flags + arguments per instruction, and
// heredoc bodies. The result is untyped nodes; parse.ts turns them into instructions.
//
// dockerfile-ast (installed) is not used for this: it is an editor-oriented AST and
// differs from Docker where it matters here, e.g. it treats `RUN echo \\` (escaped
// escape) as a line continuation, folds heredoc bodies into the argument list, and
// splits `ENV A="b c"` inside quotes.

import { DockerfileSyntaxError, ExpansionError, goQuote, InvalidInstructionError } from './errors.js';
import { extractFlags } from './flags.js';
import { isGoSpace, lexWord } from './shell-lexer.js';
import { WordSplitter } from './word-splitter.js';

/** A heredoc as found on the instruction line, with its body read. */
export interface NodeHeredoc {
  name: string;
  content: string;
  chomp: boolean;
  expand: boolean;
  fileDescriptor: number;
}

/** One instruction before typing (BuildKit's parser.Node). */
export interface DockerfileNode {
  /** the keyword as written */
  keyword: string;
  /** the keyword lower-cased */
  command: string;
  /** `--flag[=value]` words before the arguments, quotes removed */
  flags: string[];
  /** the arguments after the flags, split the way this keyword's line parser splits them */
  args: string[];
  /** the arguments were a JSON array */
  json: boolean;
  /** ONBUILD's inner instruction */
  child?: DockerfileNode;
  /** the logical line, continuations joined */
  original: string;
  heredocs: NodeHeredoc[];
  startLine: number;
  endLine: number;
}

export interface NodeParseResult {
  escapeToken: string;
  nodes: DockerfileNode[];
  warnings: string[];
}

const WHITESPACE = /[\t\v\f\r ]+/;
const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const VALID_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const HEREDOC_COMMANDS = new Set(['add', 'copy', 'run']);

/** Splits a Dockerfile into instruction nodes, reading heredoc bodies; throws DockerfileSyntaxError. */
export function parseNodes(text: string, file: string): NodeParseResult {
  const lines = splitLinesKeepingEnds(text);
  const directives = new Directives();
  const nodes: DockerfileNode[] = [];
  const warnings: string[] = [];
  let index = 0;
  let currentLine = 0;

  const processLine = (raw: string, stripLeft: boolean): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeadingSpace(token);
    try {
      directives.check(token);
    } catch (err) {
      if (err instanceof InvalidInstructionError) throw new DockerfileSyntaxError(file, currentLine + 1, err.message);
      throw err;
    }
    return isComment(token) ? '' : token;
  };

  while (index < lines.length) {
    let raw = lines[index++]!;
    if (currentLine === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    const first = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;

    let [line, isEndOfLine] = directives.trimContinuation(first);
    if (isEndOfLine && line === '') continue;

    let hasEmptyContinuationLine = false;
    while (!isEndOfLine && index < lines.length) {
      const next = lines[index++]!;
      const processed = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue; // comment lines inside a continuation are dropped
      if (trimLeadingSpace(trimNewline(processed)) === '') {
        hasEmptyContinuationLine = true;
        continue;
      }
      let continuation: string;
      [continuation, isEndOfLine] = directives.trimContinuation(processed);
      line += continuation;
    }
    if (hasEmptyContinuationLine) {
      warnings.push(`${file}:${startLine}: empty continuation line found in: ${line.trim()} (empty continuation lines will become errors in a future release)`);
    }

    let node: DockerfileNode;
    try {
      node = nodeFromLine(line, directives.escapeToken);
    } catch (err) {
      if (err instanceof InvalidInstructionError) throw new DockerfileSyntaxError(file, startLine, err.message);
      throw err;
    }

    if (canContainHeredoc(node) && line.includes('<<')) {
      let found: Omit<NodeHeredoc, 'content'>[];
      try {
        found = heredocsFromLine(line);
      } catch (err) {
        if (err instanceof InvalidInstructionError || err instanceof ExpansionError) {
          throw new DockerfileSyntaxError(file, startLine, err.message);
        }
        throw err;
      }
      for (const heredoc of found) {
        let content = '';
        let terminated = false;
        while (index < lines.length) {
          const bodyLine = lines[index++]!;
          currentLine++;
          let candidate = trimNewline(bodyLine);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += bodyLine;
        }
        if (!terminated) throw new DockerfileSyntaxError(file, startLine, `unterminated heredoc ${heredoc.name}`);
        node.heredocs.push({ ...heredoc, content });
      }
    }

    node.startLine = startLine;
    node.endLine = currentLine;
    if (node.child) {
      node.child.startLine = startLine;
      node.child.endLine = currentLine;
    }
    nodes.push(node);
  }

  if (nodes.length === 0) throw new DockerfileSyntaxError(file, Math.max(currentLine, 1), 'file with no instructions');
  return { escapeToken: directives.escapeToken, nodes, warnings };
}

/**
 * Heredoc words on an instruction line (`<<EOF`, `<<-EOF`, `3<<'EOF'`, `<< EOF`), in
 * order. The line is lexed keeping quotes, escapes and `$VARS`, as BuildKit does, so
 * `"<<EOF"` and `'<<EOF'` are not heredocs; a line that does not lex has none.
 */
export function heredocsFromLine(line: string): Omit<NodeHeredoc, 'content'>[] {
  let words: string[];
  try {
    words = lexWord(line, () => undefined, { escapeToken: '\\', rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch {
    return [];
  }
  const found: Omit<NodeHeredoc, 'content'>[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) found.push(heredoc);
  }
  return found;
}

/**
 * One word as a heredoc opener, or undefined if it is not one. The delimiter is
 * lexed twice, with and without quotes kept: if the quote counts differ, part of it
 * was quoted and the body is not expanded (BuildKit's heredocFromMatch).
 */
export function parseHeredocWord(word: string): Omit<NodeHeredoc, 'content'> | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m) return undefined;
  const rest = m[3]!;
  if (rest === '') return undefined;
  const opts = { escapeToken: '\\', skipUnsetEnv: true };
  const words = lexWord(rest, () => undefined, opts).words;
  if (words.length !== 1) return undefined;
  const wordsRaw = lexWord(rest, () => undefined, { ...opts, rawQuotes: true }).words;
  if (wordsRaw.length !== words.length) {
    throw new InvalidInstructionError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const quotes = (s: string): number => s.split(/['"]/).length - 1;
  return {
    name: words[0]!,
    chomp: m[2] === '-',
    expand: quotes(words[0]!) === quotes(wordsRaw[0]!),
    fileDescriptor: m[1] ? Number(m[1]) : 0,
  };
}

/** Removes leading tabs from every line of a `<<-` heredoc body. */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}

function canContainHeredoc(node: DockerfileNode): boolean {
  const target = node.command === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_COMMANDS.has(target.command) && !target.json;
}

/** Parser directives (`# escape=`, `# syntax=`, `# check=`) and the escape token they set. */
class Directives {
  escapeToken = '\\';
  private continuation = continuationRegExp('\\');
  private done = false;
  private readonly seen = new Set<string>();

  /** Looks at one line while directives may still appear; they end at the first other line. */
  check(line: string): void {
    if (this.done) return;
    const m = DIRECTIVE.exec(line);
    if (!m) {
      this.done = true;
      return;
    }
    const name = m[1]!.toLowerCase();
    if (!VALID_DIRECTIVES.has(name)) {
      this.done = true;
      return;
    }
    if (this.seen.has(name)) throw new InvalidInstructionError(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    if (name === 'escape') {
      const value = m[2]!;
      if (value !== '`' && value !== '\\') throw new InvalidInstructionError(`invalid escape token '${value}' does not match \` or \\`);
      this.escapeToken = value;
      this.continuation = continuationRegExp(value);
    }
  }

  /**
   * Strips a trailing escape token (and blanks after it); returns the line and
   * whether it is complete. An escaped escape token (`\\`) does not continue.
   */
  trimContinuation(line: string): [string, boolean] {
    if (this.continuation.test(line)) return [line.replace(this.continuation, '$1'), false];
    return [line, true];
  }
}

function continuationRegExp(token: string): RegExp {
  const t = token === '\\' ? '\\\\' : token;
  return new RegExp(`([^${t}])${t}[ \\t]*$|^${t}[ \\t]*$`);
}

/** Splits a line into keyword, flags and arguments, parsed per keyword (BuildKit newNodeFromLine). */
export function nodeFromLine(line: string, escapeToken: string): DockerfileNode {
  const trimmed = trimSpace(line);
  const firstSpace = WHITESPACE.exec(trimmed);
  const keyword = firstSpace ? trimmed.slice(0, firstSpace.index) : trimmed;
  let flags: string[] = [];
  let rest = '';
  if (firstSpace) {
    const extracted = extractFlags(trimmed.slice(firstSpace.index + firstSpace[0].length));
    flags = extracted.flags;
    rest = trimSpace(extracted.rest);
  }
  const command = keyword.toLowerCase();
  const node: DockerfileNode = {
    keyword,
    command,
    flags,
    args: [],
    json: false,
    original: line,
    heredocs: [],
    startLine: 0,
    endLine: 0,
  };
  switch (command) {
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell':
      Object.assign(node, parseMaybeJSON(rest));
      break;
    case 'add':
    case 'copy':
    case 'volume':
      Object.assign(node, parseMaybeJSONToList(rest));
      break;
    case 'expose':
    case 'from':
      node.args = splitWhitespace(rest);
      break;
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      node.args = rest === '' ? [] : [rest];
      break;
    case 'env':
      node.args = parseNameValue(rest, 'ENV', escapeToken);
      break;
    case 'label':
      node.args = parseNameValue(rest, 'LABEL', escapeToken);
      break;
    case 'arg':
      node.args = parseWords(rest, escapeToken);
      break;
    case 'healthcheck':
      Object.assign(node, parseHealthConfig(rest));
      break;
    case 'onbuild':
      if (rest !== '') {
        node.child = nodeFromLine(rest, escapeToken);
        node.args = [node.child.keyword, ...node.child.args];
      }
      break;
    default:
      // unknown keywords are reported when the nodes are typed (parse.ts), as BuildKit does
      break;
  }
  return node;
}

type ArgsAndForm = { args: string[]; json: boolean };

/** The first JSON value of an exec-form line; trailing text after it is ignored, as Go's json.Decoder does. */
function parseJSONArray(rest: string): string[] | undefined {
  const text = trimLeadingSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let end = -1;
  for (let i = 0; i < text.length && end < 0; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) end = i + 1;
    }
  }
  if (end < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(0, end));
  } catch {
    return undefined; // not JSON after all: shell form
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) {
    throw new InvalidInstructionError('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return value as string[];
}

// RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the whole text as one argument.
function parseMaybeJSON(rest: string): ArgsAndForm {
  if (rest === '') return { args: [], json: false };
  const json = parseJSONArray(rest);
  if (json) return { args: json, json: true };
  return { args: [rest], json: false };
}

// ADD, COPY, VOLUME: a JSON array, else whitespace-separated words.
function parseMaybeJSONToList(rest: string): ArgsAndForm {
  const json = parseJSONArray(rest);
  if (json) return { args: json, json: true };
  return { args: splitWhitespace(rest), json: false };
}

// HEALTHCHECK: a type word (CMD, NONE), then a RUN-like command.
function parseHealthConfig(rest: string): ArgsAndForm {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(rest)!;
  const type = m[1]!;
  if (type === '') return { args: [], json: false };
  const command = parseMaybeJSON(m[2]!);
  return { args: [type, ...command.args], json: command.json };
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE);
}

/**
 * ENV and LABEL: `KEY value...` (legacy, one pair, the value being the rest of the
 * line) or `KEY=value ...`. Returns [key, value, separator] triples, quotes kept.
 */
function parseNameValue(rest: string, keyword: string, escapeToken: string): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = WHITESPACE.exec(rest);
    if (!m) throw new InvalidInstructionError(`${keyword} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const out: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new InvalidInstructionError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    out.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return out;
}

/**
 * Splits on blanks outside quotes, keeping quotes and escapes in the words (they are
 * removed at expansion). An escape token at the very end is dropped.
 */
export function parseWords(rest: string, escapeToken: string): string[] {
  const chars = Array.from(rest);
  const split = new WordSplitter();
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : chars[pos]!;
    if (split.phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      split.phase = 'word';
    }
    if (split.phase === 'word' && atEnd) {
      split.endWord();
      break;
    }
    if (split.phase === 'word') {
      if (isGoSpace(ch)) {
        split.endWord();
        continue;
      }
      if (ch === "'" || ch === '"') split.openQuote(ch);
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue;
        // an escaped character, even a quote, is kept with its escape token
        split.word += ch;
        pos++;
        ch = chars[pos]!;
      }
      split.word += ch;
      continue;
    }
    // inside quotes (an unterminated quote at the end just ends the loop)
    if (atEnd) break;
    if (ch === split.quote) split.phase = 'word';
    if (ch === escapeToken && split.quote !== "'") {
      if (pos + 1 === chars.length) {
        split.phase = 'word';
        continue;
      }
      pos++;
      split.word += ch;
      ch = chars[pos]!;
    }
    split.word += ch;
  }
  return split.words;
}

function splitLinesKeepingEnds(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines ?? [];
}

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function trimLeadingSpace(s: string): string {
  let i = 0;
  const chars = Array.from(s);
  while (i < chars.length && isGoSpace(chars[i]!)) i++;
  return chars.slice(i).join('');
}

function trimSpace(s: string): string {
  const chars = Array.from(s);
  let start = 0;
  let end = chars.length;
  while (start < end && isGoSpace(chars[start]!)) start++;
  while (end > start && isGoSpace(chars[end - 1]!)) end--;
  return chars.slice(start, end).join('');
}

function isComment(line: string): boolean {
  return trimLeadingSpace(trimNewline(line)).startsWith('#');
}
