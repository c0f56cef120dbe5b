import { setTimeout as sleep } from 'node:timers/promises';

/** How often and how patiently a failed request is tried again. */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 disables retrying. */
  readonly retries: number;
  /** The first back-off; each retry doubles it (with jitter), up to MAX_DELAY_MS. */
  readonly baseDelayMs: number;
}

const MAX_DELAY_MS = 10_000;

// Failures that say nothing about the request itself: a dropped connection, a busy or restarting server.
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);
const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** Whether an HTTP status is worth retrying. */
export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUSES.has(status);
}

/** Whether an error is a network failure or a response with a transient status (see RegistryResponseError). */
export function isTransientError(error: unknown): boolean {
  const { code, status } = error as { code?: unknown; status?: unknown };
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  return typeof status === 'number' && isTransientStatus(status);
}

/** Runs `attempt` until it succeeds, fails for a non-transient reason, or the policy's retries run out. */
export async function withRetry<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (retry >= policy.retries || !isTransientError(error)) throw error;
      const backoff = Math.min(policy.baseDelayMs * 2 ** retry, MAX_DELAY_MS);
      await sleep(backoff / 2 + Math.random() * (backoff / 2));
    }
  }
}
