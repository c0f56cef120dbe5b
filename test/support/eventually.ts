// Waiting for a condition that a server reaches asynchronously, with a bound.
import { setTimeout as delay } from 'node:timers/promises';

/** Polls `probe` every 100 ms until it returns a value other than undefined; rejects after `timeoutMs`. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await delay(100);
  }
}
