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
export function dockerfileSteps(output: string): StepOutcome[] {
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

/** "COPY big/ /app/big/ cached, COPY small/ /app/small/ ran" */
export function describeSteps(steps: readonly StepOutcome[]): string {
  return steps.map((step) => `${step.instruction} ${step.cached ? 'cached' : 'ran'}`).join(', ');
}
