/**
 * Reading `--progress plain` output, which wharf prints as BuildKit does (`#4 [2/3] COPY big/ /app/big/`
 * then `#4 CACHED` or `#4 DONE 1.2s`), to check which Dockerfile steps ran and which came from cache.
 */

export interface StepOutcome {
  /** The instruction as printed after `[i/n] `, e.g. `COPY big/ /app/big/`. */
  instruction: string;
  cached: boolean;
}

/** The Dockerfile steps (not `[internal]` ones, not FROM) in the order they were printed. */
function dockerfileSteps(output: string): StepOutcome[] {
  const names = new Map<string, string>();
  const cached = new Set<string>();
  for (const line of output.split('\n')) {
    const step = /^#(\d+) \[(?:[^\]]+ )?\s*\d+\/\d+\] (.+)$/.exec(line);
    if (step && !names.has(step[1]!) && !/^FROM /i.test(step[2]!)) names.set(step[1]!, step[2]!.trim());
    const mark = /^#(\d+) CACHED\s*$/.exec(line);
    if (mark) cached.add(mark[1]!);
  }
  return [...names].map(([id, instruction]) => ({ instruction, cached: cached.has(id) }));
}

/** "COPY big/ /app/big/ cached, COPY small/ /app/small/ ran", long instructions cut short. */
function describeSteps(steps: readonly StepOutcome[], separator = ', '): string {
  return steps.map((step) => `${shorten(step.instruction)} ${step.cached ? 'cached' : 'ran'}`).join(separator);
}

/**
 * Throws unless the output shows every expected step (named by the start of its instruction) with
 * the expected cache outcome: a build that ran what it should have taken from cache, or the
 * reverse, does not measure what it claims.
 */
export function expectSteps(what: string, output: string, expected: readonly StepOutcome[]): void {
  const steps = dockerfileSteps(output);
  const met = expected.every((want) => steps.find((step) => step.instruction.startsWith(want.instruction))?.cached === want.cached);
  if (!met) {
    throw new Error(`${what}: expected ${describeSteps(expected, ' and ')}, got ${describeSteps(steps) || 'no steps'}; output (tail):\n${output.slice(-4000)}`);
  }
}

/** An instruction cut to a readable length for messages (RUN scripts can be long). */
function shorten(instruction: string): string {
  return instruction.length > 60 ? `${instruction.slice(0, 57)}…` : instruction;
}
