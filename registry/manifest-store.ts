import { DigestParseError, digestOf, parseDigest, splitDigest, type Digest } from '../shared/digest.js';
import { MediaType } from '../shared/media-types.js';
import type { Descriptor } from '../shared/oci.js';
import { isTag } from '../shared/repository-name.js';
import type { BlobStore } from './blob-store.js';
import { RegistryError } from './errors.js';
import { ManifestCache, type StoredManifest } from './manifest-cache.js';
import { parseManifest, sniffMediaType } from './manifest-parser.js';
import { listDigests } from './repositories.js';
import { deleteIfPresent } from './storage/delete-if-present.js';
import { PathNotFoundError, type StorageDriver } from './storage/driver.js';
import { StoragePaths } from './storage/paths.js';

const MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

/** A manifest reference from a URL: a tag or a digest. */
export type ManifestReference = { readonly tag: string } | { readonly digest: Digest };

/** Parses the `<reference>` of `/v2/<name>/manifests/<reference>`. */
export function parseReference(reference: string): ManifestReference {
  if (reference.includes(':')) {
    try {
      return { digest: parseDigest(reference) };
    } catch (error) {
      if (error instanceof DigestParseError) throw new RegistryError('DIGEST_INVALID', error.message, { reference });
      throw error;
    }
  }
  if (!isTag(reference)) throw new RegistryError('TAG_INVALID', `invalid tag "${reference}"`, { reference });
  return { tag: reference };
}

/** The manifests and tags of one repository that a write changed, stored or deleted. */
export interface ManifestChange {
  readonly name: string;
  readonly digests: readonly Digest[];
  readonly tags: readonly string[];
}

/** Manifests, tags and the referrers index of each repository. */
export class ManifestStore {
  private readonly cache = new ManifestCache(MANIFEST_CACHE_BYTES);

  /** `changed` runs after every write has reached storage and before the request is answered (the search index). */
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly changed: (change: ManifestChange) => Promise<void> = async () => {},
  ) {}

  /** Validates and stores a manifest, tagging it when the reference is a tag. */
  async put(name: string, reference: ManifestReference, content: Buffer, contentType: string | undefined): Promise<{ digest: Digest; subject?: Digest }> {
    const manifest = parseManifest(content, contentType);
    const digest = digestOf(content, 'digest' in reference ? splitDigest(reference.digest)[0] : 'sha256');
    if ('digest' in reference && reference.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', `manifest has digest ${digest}, not ${reference.digest}`, { digest: reference.digest });
    }
    const missing = await this.missingReferences(name, manifest.blobs, manifest.manifests);
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest references unknown ${missing.join(', ')}`, { digests: missing });
    }
    await this.blobs.put(digest, content);
    await this.changing({ name, digests: [digest], tags: 'tag' in reference ? [reference.tag] : [] }, async () => {
      await this.driver.putContent(StoragePaths.revisionLink(name, digest), Buffer.from(digest));
      if (manifest.subject) {
        await this.driver.putContent(StoragePaths.referrerLink(name, manifest.subject.digest, digest), Buffer.from(digest));
      }
      if ('tag' in reference) await this.driver.putContent(StoragePaths.tagLink(name, reference.tag), Buffer.from(digest));
    });
    this.cache.set({ digest, mediaType: manifest.mediaType, content });
    return { digest, subject: manifest.subject?.digest };
  }

  /** The manifest a tag or digest names in the repository; throws MANIFEST_UNKNOWN. */
  async get(name: string, reference: ManifestReference): Promise<StoredManifest> {
    const digest = 'tag' in reference ? await this.resolveTag(name, reference.tag) : reference.digest;
    if ('digest' in reference && !(await this.driver.stat(StoragePaths.revisionLink(name, digest)))) {
      throw unknownManifest(reference.digest);
    }
    return this.load(digest);
  }

  /** Deletes a tag, or a manifest with every tag and referrer entry that points to it. */
  async delete(name: string, reference: ManifestReference): Promise<void> {
    if ('tag' in reference) {
      await this.resolveTag(name, reference.tag);
      await this.changing({ name, digests: [], tags: [reference.tag] }, () => this.driver.delete(StoragePaths.tag(name, reference.tag)));
      return;
    }
    const manifest = await this.get(name, reference);
    const subject = parseManifest(manifest.content, manifest.mediaType).subject;
    const deletedTags: string[] = [];
    await this.changing({ name, digests: [reference.digest], tags: deletedTags }, async () => {
      for (const tag of await this.tags(name)) {
        if ((await this.tagTarget(name, tag)) !== reference.digest) continue;
        deletedTags.push(tag);
        await this.driver.delete(StoragePaths.tag(name, tag));
      }
      if (subject) {
        await deleteIfPresent(this.driver, StoragePaths.referrer(name, subject.digest, reference.digest));
      }
      await this.driver.delete(StoragePaths.revision(name, reference.digest));
    });
  }

  /** The repository's tags, sorted; throws NAME_UNKNOWN when the repository does not exist. */
  async tags(name: string): Promise<string[]> {
    try {
      const paths = await this.driver.list(StoragePaths.tagsRoot(name));
      return paths.map((path) => path.slice(path.lastIndexOf('/') + 1)).sort();
    } catch (error) {
      if (!(error instanceof PathNotFoundError)) throw error;
      if (await this.driver.stat(StoragePaths.repository(name))) return [];
      throw new RegistryError('NAME_UNKNOWN', `repository ${name} not known to registry`, { name });
    }
  }

  /** Descriptors of the manifests whose subject is `subject`, optionally only those of one artifactType. */
  async referrers(name: string, subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    const descriptors: Descriptor[] = [];
    for (const digest of await listDigests(this.driver, StoragePaths.referrers(name, subject))) {
      let stored: StoredManifest;
      try {
        stored = await this.load(digest);
      } catch (error) {
        if (error instanceof RegistryError) continue; // deleted between listing and reading
        throw error;
      }
      const manifest = parseManifest(stored.content, stored.mediaType);
      if (artifactType !== undefined && manifest.artifactType !== artifactType) continue;
      descriptors.push({
        mediaType: stored.mediaType,
        digest,
        size: stored.content.length,
        ...(manifest.artifactType === undefined ? {} : { artifactType: manifest.artifactType }),
        ...(manifest.annotations === undefined ? {} : { annotations: manifest.annotations }),
      });
    }
    return descriptors;
  }

  /** Runs storage writes, then tells `changed` what they touched, even when one of them failed halfway. */
  private async changing(change: ManifestChange, writes: () => Promise<void>): Promise<void> {
    try {
      await writes();
    } finally {
      await this.changed(change);
    }
  }

  private async resolveTag(name: string, tag: string): Promise<Digest> {
    const digest = await this.tagTarget(name, tag);
    if (digest === undefined) throw unknownManifest(tag);
    return digest;
  }

  private async tagTarget(name: string, tag: string): Promise<Digest | undefined> {
    try {
      return (await this.driver.getContent(StoragePaths.tagLink(name, tag))).toString() as Digest;
    } catch (error) {
      if (error instanceof PathNotFoundError) return undefined;
      throw error;
    }
  }

  private async load(digest: Digest): Promise<StoredManifest> {
    const cached = this.cache.get(digest);
    if (cached) return cached;
    let content: Buffer;
    try {
      content = await this.blobs.read(digest);
    } catch (error) {
      if (error instanceof PathNotFoundError) throw unknownManifest(digest);
      throw error;
    }
    const stored = { digest, mediaType: sniffMediaType(content), content };
    this.cache.set(stored);
    return stored;
  }

  private async missingReferences(name: string, blobs: readonly Descriptor[], manifests: readonly Descriptor[]): Promise<Digest[]> {
    const checks = [
      ...blobs.map(async (d) => ((await this.blobs.size(name, d.digest)) === undefined ? d.digest : undefined)),
      ...manifests.map(async (d) => ((await this.driver.stat(StoragePaths.revisionLink(name, d.digest))) ? undefined : d.digest)),
    ];
    return (await Promise.all(checks)).filter((d): d is Digest => d !== undefined);
  }
}

/** The OCI index the referrers API answers with. */
export function referrersIndex(manifests: Descriptor[]): { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
}

function unknownManifest(reference: string): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} not known to registry`, { reference });
}
