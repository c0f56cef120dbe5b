import { isIPv4 } from 'node:net';

/**
 * The registries reached without TLS verification, and over plain HTTP when HTTPS fails, as
 * Docker's `--insecure-registry HOST[:PORT]` does. Loopback hosts are insecure without being named.
 */
export class InsecureRegistries {
  private readonly entries: ReadonlySet<string>;

  /** `entries` are `HOST` (any port) or `HOST:PORT`. */
  constructor(entries: readonly string[] = []) {
    this.entries = new Set(entries.map((entry) => entry.trim().toLowerCase()));
  }

  /** Whether `host` (`HOST[:PORT]`, IPv6 in brackets) is insecure. */
  has(host: string): boolean {
    const { hostname } = new URL(`http://${host}`);
    const lower = host.toLowerCase();
    return this.entries.has(lower) || this.entries.has(hostname) || isLoopback(hostname);
  }
}

// 127.0.0.0/8, ::1 and localhost: what Docker trusts without configuration.
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}
