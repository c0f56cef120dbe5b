import { RegistryError } from '../errors.js';

/** How many failed logins are let through, and for how long a caller is then turned away. */
export interface ThrottleLimits {
  /** Failed logins naming one user, within `windowMs`, before that user is refused. */
  readonly perUser: number;
  /** Failed logins from one address, within `windowMs`, before that address is refused. */
  readonly perAddress: number;
  readonly windowMs: number;
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = { perUser: 5, perAddress: 20, windowMs: 60_000 };
// Past this many tracked keys the oldest are forgotten, so a flood of made-up names cannot fill memory.
const MAX_TRACKED = 10_000;

/**
 * Counts failed logins per user and per address and refuses (429 TOOMANYREQUESTS, with
 * Retry-After) further logins of either once too many failed within the window — right ones too,
 * so that guessing gets no answer until the window has passed.
 */
export class LoginThrottle {
  // Key → times of its failures within the window, oldest first (a Map keeps insertion order for pruning).
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Throws TOOMANYREQUESTS when `user` (if named) or `address` has failed too often lately. */
  check(user: string | undefined, address: string): void {
    const now = this.clock();
    const waits = [this.wait(`address ${address}`, this.limits.perAddress, now)];
    if (user !== undefined) waits.push(this.wait(`user ${user}`, this.limits.perUser, now));
    const wait = Math.max(...waits);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new RegistryError('TOOMANYREQUESTS', `too many failed logins: try again in ${seconds} s`, { retryAfter: seconds });
    }
  }

  /** Counts a failed login. */
  failed(user: string | undefined, address: string): void {
    const now = this.clock();
    this.record(`address ${address}`, now);
    if (user !== undefined) this.record(`user ${user}`, now);
  }

  /** A successful login clears its user's failures (its address keeps them: it may be guessing other names). */
  succeeded(user: string): void {
    this.failures.delete(`user ${user}`);
  }

  /** Milliseconds until `key` may try again; 0 when it may now. */
  private wait(key: string, limit: number, now: number): number {
    const times = this.recent(key, now);
    return times.length < limit ? 0 : times[times.length - limit]! + this.limits.windowMs - now;
  }

  private record(key: string, now: number): void {
    const times = this.recent(key, now);
    times.push(now);
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((time) => time > now - this.limits.windowMs);
  }
}

/** The seconds a TOOMANYREQUESTS error asks its caller to wait, for the Retry-After header. */
export function retryAfterOf(error: RegistryError): number | undefined {
  if (error.code !== 'TOOMANYREQUESTS') return undefined;
  return (error.detail as { retryAfter?: number } | undefined)?.retryAfter;
}
