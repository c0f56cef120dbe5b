import { Readable } from 'node:stream';
import type { ContentStore } from '../content-store.js';
import type { Digest } from '../digest.js';
import type { Image, ImageIndexSource } from '../image.js';
import type { ImageConfig } from '../image-config.js';
import { isIndexMediaType, isManifestMediaType, manifestMediaTypeOf } from '../media-types.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from '../oci.js';
import { formatPlatform, platformMatches, selectPlatformManifest } from '../platform.js';
import type { ImageReference } from '../reference.js';
import { readStoredImage } from '../stored-image.js';
import type { RegistryClient, RemoteRepository } from './client.js';
import { mapConcurrently } from '../concurrency.js';
import { withRetry } from './retry.js';

/** What a reference names on a registry: a multi-platform index, or a single image. */
export type PulledManifest =
  | { readonly kind: 'index'; readonly index: ImageIndexSource }
  | { readonly kind: 'image'; readonly image: Image };

/** Parallel layer downloads per image, as Docker's default max-concurrent-downloads is 3 to 5. */
const DOWNLOAD_CONCURRENCY = 4;

/**
 * Pulls the image `ref` names for `platform` into `store`, choosing from an index if it is one,
 * and returns it with layers read from the store. Blobs already in the store are not downloaded
 * again; a reference by digest whose manifest is stored needs no request at all.
 */
export async function pullImage(client: RegistryClient, ref: ImageReference, platform: Platform, store: ContentStore): Promise<Image> {
  const pulled = await pullManifest(client, ref, store, platform);
  if (pulled.kind === 'image') return pulled.image;
  return pulled.index.image(selectPlatformManifest(pulled.index.index, platform, ref.toString()));
}

/**
 * Fetches what `ref` names into `store`. An image comes with all its blobs (checked against
 * `platform` if given); an index comes alone, and `index.image(descriptor)` pulls one of its images.
 */
export async function pullManifest(client: RegistryClient, ref: ImageReference, store: ContentStore, platform?: Platform): Promise<PulledManifest> {
  const fetched = await fetchManifest(client, ref, ref.manifestReference, store);
  if (!isIndexMediaType(fetched.mediaType)) {
    return { kind: 'image', image: await pullManifestBlobs(client, ref, fetched, store, ref.toString(), platform) };
  }
  const index: ImageIndexSource = {
    index: JSON.parse(fetched.content.toString('utf8')) as ImageIndex,
    rawIndex: fetched.content,
    digest: fetched.digest,
    mediaType: fetched.mediaType,
    image: async (descriptor: Descriptor) => {
      const where = `${ref.registry}/${ref.repository}@${descriptor.digest}`;
      const manifest = await fetchManifest(client, ref, descriptor.digest, store);
      if (isIndexMediaType(manifest.mediaType)) throw new Error(`${where} is a nested index, which Wharf does not pull`);
      return pullManifestBlobs(client, ref, manifest, store, where, descriptor.platform);
    },
  };
  return { kind: 'index', index };
}

interface StoredManifest {
  readonly content: Buffer;
  readonly digest: Digest;
  readonly mediaType: string;
}

/** A manifest from the store when a digest names it and it is there, else from the registry (then stored). */
async function fetchManifest(client: RegistryClient, repo: RemoteRepository, reference: string, store: ContentStore): Promise<StoredManifest> {
  if (reference.includes(':') && (await store.has(reference as Digest))) {
    const content = await store.read(reference as Digest);
    return { content, digest: reference as Digest, mediaType: manifestMediaTypeOf(parseManifestJson(content, reference)) };
  }
  const fetched = await client.getManifest(repo, reference);
  const json = parseManifestJson(fetched.content, reference);
  if (json.schemaVersion === 1) throw new Error(`${repo.registry}/${repo.repository}:${reference} is a schema 1 manifest, which Wharf does not support`);
  // Some registries answer with a generic content type; the JSON says what it is.
  const mediaType = isManifestMediaType(fetched.mediaType) ? fetched.mediaType : manifestMediaTypeOf(json);
  await store.write(Readable.from([fetched.content]), fetched.digest);
  return { content: fetched.content, digest: fetched.digest, mediaType };
}

function parseManifestJson(content: Buffer, reference: string): { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown } {
  try {
    return JSON.parse(content.toString('utf8')) as { schemaVersion?: unknown; mediaType?: unknown };
  } catch {
    throw new Error(`manifest ${reference} is not valid JSON`);
  }
}

/** Downloads an image manifest's config, checks its platform, then its layers, and reads the image back from the store. */
async function pullManifestBlobs(
  client: RegistryClient,
  repo: RemoteRepository,
  stored: StoredManifest,
  store: ContentStore,
  where: string,
  platform: Platform | undefined,
): Promise<Image> {
  const manifest = JSON.parse(stored.content.toString('utf8')) as ImageManifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new Error(`${where}: the manifest has no config or no layers list`);
  await downloadBlob(client, repo, manifest.config, store);
  const config = JSON.parse((await store.read(manifest.config.digest)).toString('utf8')) as ImageConfig;
  // Checked before the layers are fetched, so a wrong-platform image costs one small blob.
  if (platform && config.os && config.architecture && !platformMatches(config, platform)) {
    throw new Error(`${where} is an image for ${formatPlatform(config)}, not ${formatPlatform(platform)}`);
  }
  await mapConcurrently(manifest.layers, DOWNLOAD_CONCURRENCY, (layer) => downloadBlob(client, repo, layer, store));
  return readStoredImage(store, stored.digest);
}

/** Stores a blob, verified against its digest and size, unless the store already has it. */
export async function downloadBlob(client: RegistryClient, repo: RemoteRepository, descriptor: Descriptor, store: ContentStore): Promise<void> {
  if (await store.has(descriptor.digest)) return;
  // A connection dropped mid-body fails the write; the retry downloads the blob again from the start.
  const { size } = await withRetry(client.retryPolicy, async () => store.write(await client.getBlob(repo, descriptor.digest), descriptor.digest));
  if (size !== descriptor.size) throw new Error(`blob ${descriptor.digest} is ${size} bytes, the manifest says ${descriptor.size}`);
}
