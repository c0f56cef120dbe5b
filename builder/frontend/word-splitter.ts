// The state BuildKit's two quote-aware word splitters share: extractFlags (flags.ts, after
// parser/split_command.go) and parseWords (node-parser.ts, after parser/line_parsers.go).
// Each keeps its own rules for quotes and escapes; this holds the words and the one being read.

/** Words split so far, and the word being read. */
export class WordSplitter {
  readonly words: string[] = [];
  phase: 'spaces' | 'word' | 'quote' = 'spaces';
  /** The quote character that opened the current quote. */
  quote = '';
  /** The text of the word being read. */
  word = '';
  /** Whether the word being read has had quotes: then it counts even when empty (`""`). */
  private quoted = false;

  /** Enters a quote opened by `ch`. */
  openQuote(ch: string): void {
    this.quote = ch;
    this.quoted = true;
    this.phase = 'quote';
  }

  /** Ends the word being read (kept unless empty and unquoted) and goes back to skipping blanks. */
  endWord(): void {
    if (this.quoted || this.word.length > 0) this.words.push(this.word);
    this.word = '';
    this.quoted = false;
    this.phase = 'spaces';
  }
}
