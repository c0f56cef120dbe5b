import type { Readable } from 'node:stream';
import type { Digest } from './digest.js';
import type { ImageConfig } from './image-config.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from './oci.js';

/**
 * One layer of an image, wherever its bytes live (a registry, the build root, an archive).
 * Immutable: every property is known when the value exists; only the bytes are fetched lazily.
 */
export interface Layer {
  /** The compressed blob as a manifest lists it: media type, digest, size. */
  readonly descriptor: Descriptor;
  /** The digest of the uncompressed tar, as the config's rootfs.diff_ids lists it. */
  readonly diffId: Digest;
  /** The compressed bytes. */
  open(): Promise<Readable>;
}

/**
 * A single-platform image: a manifest, its config and its layers, as go-containerregistry's
 * v1.Image. Registries, archives and the builder produce it; pushers and exporters consume it.
 */
export interface Image {
  readonly manifest: ImageManifest;
  /** The manifest bytes exactly as stored or pushed: its digest is the image's digest. */
  readonly rawManifest: Buffer;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly config: ImageConfig;
  /** The config bytes exactly: their digest is the image ID. */
  readonly rawConfig: Buffer;
  readonly layers: readonly Layer[];
}

/** A multi-platform image index (OCI) or manifest list (Docker). */
export interface ImageIndexSource {
  readonly index: ImageIndex;
  readonly rawIndex: Buffer;
  readonly digest: Digest;
  readonly mediaType: string;
  /** The image one entry of the index names. */
  image(descriptor: Descriptor): Promise<Image>;
}

/** The platform an image is built for, as `--platform os/arch[/variant]` names it. */
export type { Platform };
