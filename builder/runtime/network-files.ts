// The files that tell a RUN's process about its network: /etc/hosts and /etc/resolv.conf,
// written into the bundle and bind-mounted read-only over the image's (see oci-spec.ts).

/** How a RUN reaches the network: the host's own stack, or a namespace of its own holding only loopback. */
export type NetworkMode = 'host' | 'none';

/** BuildKit's hostname for RUN, so that `hostname` and /etc/hosts print what they print under BuildKit. */
export const SANDBOX_HOSTNAME = 'buildkitsandbox';

// Docker's fallbacks (libnetwork's resolvconf) when no usable nameserver is left.
const PUBLIC_NAMESERVERS = ['8.8.8.8', '8.8.4.4', '2001:4860:4860::8888', '2001:4860:4860::8844'];

/** /etc/hosts of a container: localhost, also named by the hostname; BuildKit writes the same one whatever the network. */
export function containerHosts(): string {
  return `127.0.0.1\tlocalhost ${SANDBOX_HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

/**
 * /etc/resolv.conf of a container, from the host's. With a network namespace of its own, the
 * host's loopback nameservers (systemd-resolved's 127.0.0.53, a local dnsmasq) are out of reach:
 * they are dropped and, when none remain, public ones put instead, as Docker and BuildKit do.
 */
export function containerResolvConf(host: string, network: NetworkMode): string {
  if (network === 'host') return host;
  const kept = host.replace(/^[ \t]*nameserver[ \t]+(?:127(?:\.\d{1,3}){3}|::1)[ \t]*(?:\n|$)/gm, '');
  if (/^[ \t]*nameserver[ \t]/m.test(kept)) return kept;
  const separated = kept === '' || kept.endsWith('\n') ? kept : `${kept}\n`;
  return separated + PUBLIC_NAMESERVERS.map((address) => `nameserver ${address}\n`).join('');
}
