import type { Digest } from '../shared/digest.js';
import type { ManifestMediaType } from '../shared/media-types.js';

/** A manifest's bytes with the media type it is served as. */
export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: ManifestMediaType;
  readonly content: Buffer;
}

/**
 * Recently served manifests by digest, bounded in bytes. Content-addressed bytes never change,
 * so the cache needs no invalidation; whether a repository may still serve them is checked apart.
 */
export class ManifestCache {
  private readonly entries = new Map<Digest, StoredManifest>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(digest: Digest): StoredManifest | undefined {
    const entry = this.entries.get(digest);
    if (entry) {
      // Re-insert so Map order tracks recency.
      this.entries.delete(digest);
      this.entries.set(digest, entry);
    }
    return entry;
  }

  set(entry: StoredManifest): void {
    if (entry.content.length > this.maxBytes || this.entries.has(entry.digest)) return;
    this.entries.set(entry.digest, entry);
    this.bytes += entry.content.length;
    for (const [digest, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(digest);
      this.bytes -= oldest.content.length;
    }
  }
}
