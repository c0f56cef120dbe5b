/** A Dockerfile mistake at a known place: prints as `file:line: message`, the one line the CLI shows. */
export class DockerfileSyntaxError extends Error {
  override readonly name = 'DockerfileSyntaxError';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }

  override toString(): string {
    return `${this.file}:${this.line}: ${this.detail}`;
  }
}

/** A problem with one instruction, before the parser knows (or adds) where it is. */
export class InvalidInstructionError extends Error {
  override readonly name = 'InvalidInstructionError';
}

/**
 * A word that variable expansion rejects (`${X:?unset}`, `${}`, an unclosed quote).
 * The message follows BuildKit's: `failed to process "<word>": <reason>`.
 */
export class ExpansionError extends Error {
  override readonly name = 'ExpansionError';

  constructor(
    readonly word: string,
    readonly reason: string,
  ) {
    super(`failed to process ${goQuote(word)}: ${reason}`);
  }
}

/** Go's %q for the strings we print: double quotes, backslash escapes. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
