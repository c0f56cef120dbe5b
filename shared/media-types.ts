/** Media types of the manifests and configs Wharf reads and writes. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export type ManifestMediaType =
  | typeof MediaType.OciManifest
  | typeof MediaType.OciIndex
  | typeof MediaType.DockerManifest
  | typeof MediaType.DockerManifestList;

/** The manifest media types a registry stores, in the order Wharf prefers them. */
export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
];

export function isManifestMediaType(value: string): value is ManifestMediaType {
  return (MANIFEST_MEDIA_TYPES as readonly string[]).includes(value);
}

/** Whether a manifest media type lists other manifests (an index) rather than layers. */
export function isIndexMediaType(value: string): boolean {
  return value === MediaType.OciIndex || value === MediaType.DockerManifestList;
}

/**
 * The media type a manifest's JSON declares, or for one that omits it (OCI allows that) the type its
 * shape implies: a `manifests` list makes it an index.
 */
export function manifestMediaTypeOf(manifest: { readonly mediaType?: unknown; readonly manifests?: unknown }): string {
  if (typeof manifest.mediaType === 'string' && manifest.mediaType !== '') return manifest.mediaType;
  return Array.isArray(manifest.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
}
