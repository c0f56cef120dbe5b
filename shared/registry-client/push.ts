import { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import type { Image } from '../image.js';
import type { Descriptor } from '../oci.js';
import type { ImageReference } from '../reference.js';
import type { BlobUploadOutcome, RegistryClient, RemoteRepository } from './client.js';
import { mapConcurrently } from '../concurrency.js';

/** What a push needs of an image: manifest, config bytes and layers. An artifact's config need not be an image config. */
export type PushableImage = Pick<Image, 'manifest' | 'rawManifest' | 'digest' | 'mediaType' | 'rawConfig' | 'layers'>;

export interface PushOptions {
  /** Blob uploads in flight at once; default 4. */
  readonly concurrency?: number;
  /**
   * A repository that probably holds some of the blobs already, typically the base image's. On the
   * same registry, those blobs are mounted instead of uploaded; elsewhere the hint is ignored.
   */
  readonly mountFrom?: RemoteRepository;
  /** Told what happened to each blob, for progress output. */
  readonly onBlob?: (descriptor: Descriptor, outcome: BlobUploadOutcome) => void;
}

/**
 * Pushes an image under one or more references and returns its manifest digest. For each repository,
 * the config and layers go up in parallel (skipped when the registry has them, mounted when
 * `mountFrom` — or a repository pushed earlier in this call on the same registry — has them), then
 * the manifest is PUT under each reference's tag, or its digest when it names no tag.
 */
export async function pushImage(
  client: RegistryClient,
  image: PushableImage,
  refs: ImageReference | readonly ImageReference[],
  options: PushOptions = {},
): Promise<Digest> {
  const all: readonly ImageReference[] = Array.isArray(refs) ? refs : [refs as ImageReference];
  for (const ref of all) {
    if (ref.digest !== undefined && ref.digest !== image.digest) throw new Error(`cannot push image ${image.digest} as ${ref}: the reference pins another digest`);
  }

  const byRepository = new Map<string, ImageReference[]>();
  for (const ref of all) {
    const key = `${ref.registry}/${ref.repository}`;
    byRepository.set(key, [...(byRepository.get(key) ?? []), ref]);
  }

  const pushed: RemoteRepository[] = [];
  for (const group of byRepository.values()) {
    const repo = group[0]!;
    const source = [...pushed].reverse().find((p) => p.registry === repo.registry) ?? options.mountFrom;
    const mountFrom = source && source.registry === repo.registry && source.repository !== repo.repository ? source.repository : undefined;
    await pushBlobs(client, image, repo, mountFrom, options);
    for (const ref of group) await client.putManifest(ref, ref.tag ?? image.digest, image.rawManifest, image.mediaType);
    pushed.push(repo);
  }
  return image.digest;
}

async function pushBlobs(client: RegistryClient, image: PushableImage, repo: RemoteRepository, mountFrom: string | undefined, options: PushOptions): Promise<void> {
  const blobs = new Map<Digest, { descriptor: Descriptor; open: () => Promise<Readable> }>();
  blobs.set(image.manifest.config.digest, { descriptor: image.manifest.config, open: async () => Readable.from([image.rawConfig]) });
  // An image may list the same layer twice (two identical steps); it is uploaded once.
  for (const layer of image.layers) if (!blobs.has(layer.descriptor.digest)) blobs.set(layer.descriptor.digest, { descriptor: layer.descriptor, open: () => layer.open() });

  await mapConcurrently([...blobs.values()], options.concurrency ?? 4, async ({ descriptor, open }) => {
    const outcome = await client.uploadBlob(repo, descriptor, open, mountFrom === undefined ? {} : { mountFrom });
    options.onBlob?.(descriptor, outcome);
  });
}
