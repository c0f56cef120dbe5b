import type { Descriptor, ImageIndex, Platform } from './oci.js';

/** An index has no manifest for the platform asked for. */
export class PlatformNotFoundError extends Error {
  constructor(readonly wanted: Platform, readonly available: readonly Platform[], where: string) {
    const list = available.length > 0 ? available.map(formatPlatform).join(', ') : 'none';
    super(`${where} has no image for ${formatPlatform(wanted)} (available: ${list})`);
  }
}

/** `os/architecture[/variant]`, as `--platform` writes it. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/**
 * The index entry for `wanted`: an exact match (after normalising names such as aarch64 → arm64,
 * arm64/v8 → arm64), else — when no variant was asked for — the first entry of that os and architecture.
 * Throws PlatformNotFoundError listing what the index offers.
 */
export function selectPlatformManifest(index: ImageIndex, wanted: Platform, where: string): Descriptor {
  const target = normalize(wanted);
  const candidates = index.manifests.filter((m) => {
    if (!m.platform) return false;
    const p = normalize(m.platform);
    return p.os === target.os && p.architecture === target.architecture;
  });
  const exact = candidates.find((m) => normalize(m.platform!).variant === target.variant);
  const chosen = exact ?? (wanted.variant === undefined ? candidates[0] : undefined);
  if (chosen) return chosen;
  // Attestation manifests sit in indexes as unknown/unknown; they are no platform anyone can ask for.
  const available = index.manifests.flatMap((m) => (m.platform && m.platform.os !== 'unknown' ? [m.platform] : []));
  throw new PlatformNotFoundError(wanted, available, where);
}

/** Whether an image config's os and architecture are the wanted platform's (configs often omit the variant). */
export function platformMatches(actual: Platform, wanted: Platform): boolean {
  const [a, w] = [normalize(actual), normalize(wanted)];
  return a.os === w.os && a.architecture === w.architecture;
}

const ARCHITECTURE_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', armhf: 'arm', armel: 'arm' };

// containerd's normalisation: the default variant of an architecture is the same as none.
function normalize(platform: Platform): { os: string; architecture: string; variant?: string } {
  const os = platform.os.toLowerCase();
  const architecture = ARCHITECTURE_ALIASES[platform.architecture.toLowerCase()] ?? platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  if ((architecture === 'arm64' && variant === 'v8') || (architecture === 'amd64' && variant === 'v1')) variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = platform.architecture.toLowerCase() === 'armel' ? 'v6' : 'v7';
  return { os, architecture, variant };
}
