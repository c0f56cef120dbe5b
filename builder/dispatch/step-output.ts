import { StringDecoder } from 'node:string_decoder';

/**
 * A RUN's output as whole lines for the progress display: chunks split where the process wrote
 * newlines, a carriage return (progress bars) ending a line too, multi-byte characters kept whole
 * across chunks, and the last unterminated line flushed by end().
 */
export class StepOutput {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Buffer): void {
    const text = this.pending + this.decoder.write(chunk);
    // A final \r may be the first half of a \r\n split across chunks: it waits for the next chunk.
    const held = text.endsWith('\r') ? 1 : 0;
    const lines = text.slice(0, text.length - held).split(/\r\n|\n|\r/);
    this.pending = lines.pop()! + (held ? '\r' : '');
    for (const line of lines) this.onLine(line);
  }

  end(): void {
    const rest = (this.pending + this.decoder.end()).replace(/\r$/, '');
    this.pending = '';
    if (rest !== '') this.onLine(rest);
  }
}
