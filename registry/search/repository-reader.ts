import { mapConcurrently } from '../../shared/concurrency.js';
import { DigestParseError, parseDigest, type Digest } from '../../shared/digest.js';
import { isIndexMediaType, MediaType } from '../../shared/media-types.js';
import type { Platform } from '../../shared/oci.js';
import type { BlobStore } from '../blob-store.js';
import type { ManifestChange } from '../manifest-store.js';
import { parseManifest, sniffMediaType } from '../manifest-parser.js';
import { listDigests } from '../repositories.js';
import { PathNotFoundError, type StorageDriver } from '../storage/driver.js';
import { listOrEmpty } from '../storage/list-or-empty.js';
import { StoragePaths } from '../storage/paths.js';
import type { ManifestRecord, RepositoryPatch } from './search-database.js';

/** What a manifest's bytes (and its config's) say: the same for every repository and forever, so cached by digest. */
type ManifestFacts = Omit<ManifestRecord, 'digest' | 'pushedAt'>;

const MAX_CACHED_FACTS = 20_000;
const MAX_CONFIG_BYTES = 1024 * 1024;
// Storage reads in flight for one repository: enough to hide latency, few enough for file descriptors.
const READS_PER_REPOSITORY = 16;
const IMAGE_CONFIG_TYPES = new Set<string>([MediaType.OciConfig, MediaType.DockerConfig]);

/** Reads from storage what the search index keeps of a repository: manifests (with labels and platforms) and tags. */
export class RepositoryReader {
  private readonly facts = new Map<string, ManifestFacts>();

  constructor(private readonly driver: StorageDriver, private readonly blobs: BlobStore) {}

  /** Every manifest and tag of the repository. */
  async readAll(name: string): Promise<RepositoryPatch> {
    const [digests, tagFolders] = await Promise.all([listDigests(this.driver, StoragePaths.revisionsRoot(name)), listOrEmpty(this.driver, StoragePaths.tagsRoot(name))]);
    const tags = await this.readTags(name, tagFolders.map((folder) => folder.slice(folder.lastIndexOf('/') + 1)));
    return { name, complete: true, manifests: await this.readManifests(name, digests), tags };
  }

  /**
   * The manifests and tags a change touched, as storage has them now, plus the manifests those tags
   * name that `indexed` does not know yet.
   */
  async read(change: ManifestChange, indexed: (digest: string) => boolean): Promise<RepositoryPatch> {
    const tags = await this.readTags(change.name, change.tags);
    const digests = new Set<string>(change.digests);
    for (const digest of tags.values()) if (digest !== undefined && !indexed(digest)) digests.add(digest);
    return { name: change.name, complete: false, manifests: await this.readManifests(change.name, [...digests]), tags };
  }

  private async readTags(name: string, tags: readonly string[]): Promise<Map<string, string | undefined>> {
    const targets = await mapConcurrently(tags, READS_PER_REPOSITORY, (tag) => this.tagTarget(name, tag));
    return new Map(tags.map((tag, i) => [tag, targets[i]]));
  }

  private async readManifests(name: string, digests: readonly string[]): Promise<Map<string, ManifestRecord | undefined>> {
    const records = await mapConcurrently(digests, READS_PER_REPOSITORY, (digest) => this.manifest(name, digest as Digest));
    return new Map(digests.map((digest, i) => [digest, records[i]]));
  }

  private async tagTarget(name: string, tag: string): Promise<string | undefined> {
    try {
      return parseDigest((await this.driver.getContent(StoragePaths.tagLink(name, tag))).toString());
    } catch (error) {
      // A tag without a readable link is not served either (ManifestStore.get answers MANIFEST_UNKNOWN).
      if (error instanceof PathNotFoundError || error instanceof DigestParseError) return undefined;
      throw error;
    }
  }

  /** The manifest as the repository holds it, or undefined once its revision is gone. */
  private async manifest(name: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const link = await this.driver.stat(StoragePaths.revisionLink(name, digest));
    if (link === undefined) return undefined;
    return { digest, pushedAt: link.modTime.getTime(), ...(await this.manifestFacts(digest, true)) };
  }

  private async manifestFacts(digest: Digest, followIndex: boolean): Promise<ManifestFacts> {
    const cached = this.facts.get(digest);
    if (cached !== undefined) return cached;
    let content: Buffer;
    try {
      content = await this.blobs.read(digest);
    } catch (error) {
      // The revision is there but its bytes are not: still a manifest of the repository, as the catalog counts it.
      if (error instanceof PathNotFoundError) return { mediaType: '', artifactType: '', size: 0, labels: {}, platforms: [] };
      throw error;
    }
    const facts = await this.factsOf(content, followIndex);
    // An index's children are read without their own children: only a whole read is worth keeping.
    if (followIndex) {
      if (this.facts.size >= MAX_CACHED_FACTS) this.facts.delete(this.facts.keys().next().value as string);
      this.facts.set(digest, facts);
    }
    return facts;
  }

  private async factsOf(content: Buffer, followIndex: boolean): Promise<ManifestFacts> {
    let manifest;
    try {
      manifest = parseManifest(content, sniffMediaType(content));
    } catch {
      return { mediaType: '', artifactType: '', size: content.length, labels: {}, platforms: [] };
    }
    const annotations = manifest.annotations ?? {};
    const artifactType = manifest.artifactType ?? '';
    if (isIndexMediaType(manifest.mediaType)) {
      // An index's platforms are in its list; its labels are those of its first image, under its own annotations.
      const platforms = manifest.manifests.flatMap((d) => (d.platform && d.platform.os !== 'unknown' ? [platformName(d.platform)] : []));
      const children = followIndex ? await Promise.all(manifest.manifests.map((d) => this.manifestFacts(d.digest, false))) : [];
      const first = manifest.manifests.findIndex((d) => d.platform === undefined || d.platform.os !== 'unknown');
      const size = content.length + manifest.manifests.reduce((sum, d, i) => sum + (children[i]?.size ?? d.size), 0);
      return { mediaType: manifest.mediaType, artifactType, size, labels: { ...children[first]?.labels, ...annotations }, platforms: [...new Set(platforms)].sort() };
    }
    const [config] = manifest.blobs;
    const size = content.length + manifest.blobs.reduce((sum, d) => sum + d.size, 0);
    const image = config !== undefined && IMAGE_CONFIG_TYPES.has(config.mediaType) && config.size <= MAX_CONFIG_BYTES ? await this.imageConfig(config.digest) : {};
    return {
      mediaType: manifest.mediaType,
      artifactType,
      size,
      labels: { ...image.labels, ...annotations },
      platforms: image.platform === undefined ? [] : [image.platform],
    };
  }

  /** The labels and platform of an image config; nothing when it cannot be read. */
  private async imageConfig(digest: Digest): Promise<{ labels?: Record<string, string>; platform?: string }> {
    let json: { config?: { Labels?: unknown }; os?: unknown; architecture?: unknown; variant?: unknown };
    try {
      json = JSON.parse((await this.blobs.read(digest)).toString('utf8')) as typeof json;
    } catch {
      return {};
    }
    const labels = Object.fromEntries(
      Object.entries(isObject(json?.config?.Labels) ? json.config.Labels : {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    const known = typeof json?.os === 'string' && typeof json.architecture === 'string';
    const platform = known ? platformName({ os: json.os as string, architecture: json.architecture as string, variant: typeof json.variant === 'string' ? json.variant : undefined }) : undefined;
    return { labels, platform };
  }
}

function platformName(platform: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  return [platform.os, platform.architecture, ...(platform.variant ? [platform.variant] : [])].join('/');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
