import type { Writable } from 'node:stream';
import type { Image } from '../../shared/image.js';
import type { TarRecord } from '../../shared/layer/tar-format.js';
import { MediaType } from '../../shared/media-types.js';
import type { Descriptor, ImageIndex } from '../../shared/oci.js';
import { fileRecord, imageBlobRecords, sortRecords, writeArchive } from './archive-output.js';
import { archiveTags, type ArchiveTag } from './archive-tags.js';

/** containerd's annotation for an image's full name, which `ctr import` and Docker ≥ 25 read. */
export const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
/** The OCI annotation naming a manifest in an image layout: the tag (skopeo's `oci-archive:FILE:TAG`). */
export const OCI_REF_NAME = 'org.opencontainers.image.ref.name';

/** The `index.json` of a layout holding `image` under each tag (one entry per tag; one untagged entry if none). */
export function ociLayoutIndex(image: Image, tags: readonly ArchiveTag[]): Buffer {
  const target: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.rawManifest.length };
  const manifests = tags.length === 0
    ? [target]
    : tags.map((tag): Descriptor => ({ ...target, annotations: { [CONTAINERD_IMAGE_NAME]: tag.full, [OCI_REF_NAME]: tag.tag } }));
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return Buffer.from(JSON.stringify(index));
}

/** The members of an OCI image layout holding `image`: `oci-layout`, `index.json` and `blobs/`. */
export function ociLayoutRecords(image: Image, tags: readonly ArchiveTag[]): TarRecord[] {
  return [
    ...imageBlobRecords(image),
    fileRecord('index.json', ociLayoutIndex(image, tags)),
    fileRecord('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))),
  ];
}

/**
 * Writes `image` as an OCI image layout tar (what `skopeo copy oci-archive:` and BuildKit's
 * `--output type=oci` read and write), named by `tags`. Entries are sorted, with fixed metadata:
 * the same image and tags give the same bytes. Layer bytes are checked against their digests.
 */
export async function writeOciLayoutArchive(image: Image, tags: readonly string[], destination: string | Writable): Promise<void> {
  await writeArchive(sortRecords(ociLayoutRecords(image, archiveTags(tags))), destination);
}
