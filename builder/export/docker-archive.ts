import type { Writable } from 'node:stream';
import type { Image } from '../../shared/image.js';
import { blobPath, fileRecord, sortRecords, writeArchive } from './archive-output.js';
import { archiveTags } from './archive-tags.js';
import { ociLayoutRecords } from './oci-layout.js';

/** One entry of a docker archive's `manifest.json`, as `docker save` writes it. */
export interface DockerArchiveManifestEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[] | null;
  readonly Layers: readonly string[];
}

/** The `manifest.json` of a docker archive holding `image` under `repoTags`. */
export function dockerArchiveManifest(image: Image, repoTags: readonly string[]): Buffer {
  const entry: DockerArchiveManifestEntry = {
    Config: blobPath(image.manifest.config.digest),
    RepoTags: repoTags.length > 0 ? repoTags : null,
    Layers: image.layers.map((layer) => blobPath(layer.descriptor.digest)),
  };
  return Buffer.from(JSON.stringify([entry]));
}

/**
 * Writes `image` as a `docker load`-able tar, laid out as Docker ≥ 25's `docker save` does: an
 * OCI image layout (blobs/, index.json, oci-layout) plus `manifest.json` naming the config and
 * layer blobs, so older engines (which read only manifest.json) and OCI tools both read it. Tags
 * are normalised as Docker writes them (`foo` → `foo:latest`). Layers stay compressed; docker load
 * decompresses them. Deterministic: the same image and tags give the same bytes.
 */
export async function writeDockerArchive(image: Image, tags: readonly string[], destination: string | Writable): Promise<void> {
  const normalised = archiveTags(tags);
  const records = [
    ...ociLayoutRecords(image, normalised),
    fileRecord('manifest.json', dockerArchiveManifest(image, normalised.map((tag) => tag.familiar))),
  ];
  await writeArchive(sortRecords(records), destination);
}
