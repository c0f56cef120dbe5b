import { createHmac, randomBytes } from 'node:crypto';
import type { Htpasswd } from './htpasswd.js';
import type { LoginThrottle } from './login-throttle.js';

// Docker sends Basic credentials with every request of a push: a bcrypt check each time would cost
// more than the request. A right password is remembered this long, by an HMAC of it, never the password.
const REMEMBER_MS = 60_000;
const MAX_REMEMBERED = 1000;

/** Checks user names and passwords against htpasswd, throttling callers who fail too often. */
export class PasswordLogin {
  private readonly secret = randomBytes(32);
  private readonly remembered = new Map<string, number>();

  constructor(
    readonly users: Htpasswd,
    private readonly throttle: LoginThrottle,
  ) {}

  /**
   * Whether `password` is `user`'s; throws TOOMANYREQUESTS, before checking, when the user or
   * `address` failed too often lately. Every failure counts against both.
   */
  async login(user: string, password: string, address: string): Promise<boolean> {
    this.throttle.check(user, address);
    const key = createHmac('sha256', this.secret).update(`${user}\0${password}`).digest('base64');
    const now = Date.now();
    if ((this.remembered.get(key) ?? 0) > now) return true;
    if (!(await this.users.verify(user, password))) {
      this.throttle.failed(user, address);
      return false;
    }
    this.throttle.succeeded(user);
    this.remembered.set(key, now + REMEMBER_MS);
    if (this.remembered.size > MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
    return true;
  }

  /** Counts a failed login that had no password to check (a bad refresh token), against `address`. */
  failed(address: string): void {
    this.throttle.failed(undefined, address);
  }

  /** Throws TOOMANYREQUESTS when `address` failed too often lately. */
  check(address: string): void {
    this.throttle.check(undefined, address);
  }
}
