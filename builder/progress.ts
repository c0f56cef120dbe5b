import type { Writable } from 'node:stream';

/** How a step ended, as the step list shows it. */
type StepState = 'running' | 'done' | 'cached' | 'error';

interface Step {
  readonly id: number;
  readonly name: string;
  state: StepState;
  readonly started: number;
  finished?: number;
}

/** Where the builder reports its steps: `[2/7] COPY src/ ./src/`, CACHED marks and times, as BuildKit shows them. */
export interface Progress {
  start(name: string): number;
  log(id: number, line: string): void;
  cached(id: number): void;
  done(id: number): void;
  fail(id: number, message: string): void;
  close(): void;
}

/** Picks the display: live redrawing on a terminal, plain lines otherwise; nothing when quiet. */
export function createProgress(mode: 'auto' | 'plain' | 'tty', quiet: boolean, output: Writable & { isTTY?: boolean }): Progress {
  if (quiet) return new SilentProgress();
  if (mode === 'tty' || (mode === 'auto' && output.isTTY)) return new TtyProgress(output);
  return new PlainProgress(output);
}

class SilentProgress implements Progress {
  private next = 1;
  start(): number {
    return this.next++;
  }
  log(): void {}
  cached(): void {}
  done(): void {}
  fail(): void {}
  close(): void {}
}

/** Plain lines as `docker build --progress=plain` prints them: for CI logs. */
class PlainProgress implements Progress {
  private readonly steps = new Map<number, Step>();
  private next = 1;

  constructor(private readonly output: Writable) {}

  start(name: string): number {
    const id = this.next++;
    this.steps.set(id, { id, name, state: 'running', started: Date.now() });
    this.output.write(`#${id} ${name}\n`);
    return id;
  }

  /** A line of the step's output, with the seconds since the step started, as BuildKit prints it. */
  log(id: number, line: string): void {
    const step = this.steps.get(id);
    const elapsed = step ? ((Date.now() - step.started) / 1000).toFixed(3) : '0.000';
    this.output.write(`#${id} ${elapsed} ${line}\n`);
  }

  cached(id: number): void {
    this.finish(id, 'cached');
    this.output.write(`#${id} CACHED\n\n`);
  }

  done(id: number): void {
    const step = this.finish(id, 'done');
    this.output.write(`#${id} DONE ${seconds(step)}\n\n`);
  }

  fail(id: number, message: string): void {
    const step = this.finish(id, 'error');
    this.output.write(`#${id} ERROR ${seconds(step)}: ${message}\n\n`);
  }

  close(): void {}

  private finish(id: number, state: StepState): Step {
    const step = this.steps.get(id)!;
    step.state = state;
    step.finished = Date.now();
    return step;
  }
}

/** A live step list redrawn in place; finished steps collapse to one line each. */
class TtyProgress implements Progress {
  private readonly steps: Step[] = [];
  private readonly logs = new Map<number, string[]>();
  private drawnLines = 0;
  private readonly began = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly output: Writable) {
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }

  start(name: string): number {
    const id = this.steps.length + 1;
    this.steps.push({ id, name, state: 'running', started: Date.now() });
    this.draw();
    return id;
  }

  log(id: number, line: string): void {
    const lines = this.logs.get(id) ?? [];
    lines.push(line);
    // Only the last few lines of a running step are shown, as BuildKit does.
    if (lines.length > 6) lines.shift();
    this.logs.set(id, lines);
  }

  cached(id: number): void {
    this.finish(id, 'cached');
  }

  done(id: number): void {
    this.finish(id, 'done');
  }

  fail(id: number, message: string): void {
    this.log(id, message);
    this.finish(id, 'error');
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }

  private finish(id: number, state: StepState): void {
    const step = this.steps[id - 1]!;
    step.state = state;
    step.finished = Date.now();
    this.draw();
  }

  private draw(): void {
    const finished = this.steps.filter((step) => step.state !== 'running').length;
    const lines = [`[+] Building ${((Date.now() - this.began) / 1000).toFixed(1)}s (${finished}/${this.steps.length})`];
    for (const step of this.steps) {
      const mark = step.state === 'cached' ? 'CACHED' : step.state === 'error' ? 'ERROR' : seconds(step);
      lines.push(` => ${step.name.padEnd(60).slice(0, 60)} ${mark}`);
      if (step.state !== 'done' && step.state !== 'cached') for (const line of this.logs.get(step.id) ?? []) lines.push(` => => ${line}`);
    }
    const clear = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
    this.output.write(clear + lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}

function seconds(step: Step): string {
  return `${(((step.finished ?? Date.now()) - step.started) / 1000).toFixed(1)}s`;
}
