// Builds the tiny images the end-to-end tests push around, offline: a root filesystem
// holding the static busybox binary, as a tar (for `docker import`) or as an OCI layout
// (for skopeo, so skopeo tests do not need a docker engine).
import { createHash } from 'node:crypto';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** Where Debian's busybox-static puts the binary. */
export const BUSYBOX_PATH = '/bin/busybox';

/** Applets linked to busybox in the test root filesystem. */
export const BUSYBOX_APPLETS = ['sh', 'echo', 'cat', 'ls', 'true', 'false', 'env', 'sleep', 'test', 'wc', 'sha256sum', 'mkdir', 'rm'];

// A fixed timestamp keeps the tars, and so the digests, identical from run to run.
const EPOCH = new Date('2000-01-01T00:00:00Z');

/** One entry of a layer tar: a directory, a regular file or a symlink. */
export type LayerEntry =
  | { type: 'directory'; name: string; mode?: number }
  | { type: 'file'; name: string; content: Buffer | string; mode?: number }
  | { type: 'symlink'; name: string; target: string };

/** Packs entries, in the given order, into an uncompressed tar. */
export async function tarOf(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (chunk) => chunks.push(chunk as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const common = { uid: 0, gid: 0, mtime: EPOCH };
  for (const entry of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (entry.type === 'directory') {
        pack.entry({ ...common, name: entry.name, type: 'directory', mode: entry.mode ?? 0o755 }, done);
      } else if (entry.type === 'symlink') {
        pack.entry({ ...common, name: entry.name, type: 'symlink', linkname: entry.target, mode: 0o777 }, done);
      } else {
        const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : entry.content;
        pack.entry({ ...common, name: entry.name, type: 'file', mode: entry.mode ?? 0o644 }, content, done);
      }
    });
  }
  pack.finalize();
  return collected;
}

/** Entries of a minimal root filesystem: /bin/busybox plus applet symlinks, /etc, /tmp. */
export async function busyboxRootfsEntries(): Promise<LayerEntry[]> {
  const busybox = await readFile(BUSYBOX_PATH);
  return [
    { type: 'directory', name: 'bin' },
    { type: 'file', name: 'bin/busybox', content: busybox, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((applet): LayerEntry => ({ type: 'symlink', name: `bin/${applet}`, target: 'busybox' })),
    { type: 'directory', name: 'etc' },
    { type: 'directory', name: 'tmp', mode: 0o1777 },
  ];
}

/** `sha256:<hex>` of some bytes. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A descriptor as it appears in manifests and indexes. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** What writeOciLayout produced, for tests to compare against what comes back. */
export interface WrittenOciImage {
  manifest: Descriptor;
  manifestBytes: Buffer;
  config: Descriptor;
  /** The compressed layer blobs, in order. */
  layers: Descriptor[];
  /** The digests of the uncompressed layer tars (the config's rootfs.diff_ids). */
  diffIds: string[];
}

/** The platform name of this machine's CPU, as OCI configs spell it. */
export function ociArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return names[process.arch] ?? process.arch;
}

/** Options of one image written into an OCI layout. */
export interface ImageOptions {
  cmd?: string[];
  /** Defaults to this machine's (ociArchitecture()). */
  architecture?: string;
}

async function putBlob(dir: string, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const digest = sha256(bytes);
  await writeFile(join(blobs, digest.slice('sha256:'.length)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** Writes an image's blobs (layers gzip-compressed, config, manifest) into an OCI layout, untagged. */
export async function writeOciImage(dir: string, layerTars: Buffer[], options: ImageOptions = {}): Promise<WrittenOciImage> {
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const layerTar of layerTars) {
    diffIds.push(sha256(layerTar));
    layers.push(await putBlob(dir, gzipSync(layerTar), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  }
  const configJson = {
    created: EPOCH.toISOString(),
    architecture: options.architecture ?? ociArchitecture(),
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: options.cmd ?? ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layerTars.map((_, i) => ({ created: EPOCH.toISOString(), created_by: `wharf e2e layer ${i}` })),
  };
  const config = await putBlob(dir, Buffer.from(JSON.stringify(configJson)), 'application/vnd.oci.image.config.v1+json');
  const manifestBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers,
  }));
  const manifest = await putBlob(dir, manifestBytes, 'application/vnd.oci.image.manifest.v1+json');
  return { manifest, manifestBytes, config, layers, diffIds };
}

/** Points `tag` of the OCI layout at `dir` to a manifest or index, creating the layout files if needed. */
export async function tagInOciLayout(dir: string, tag: string, target: Descriptor): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  let index: { schemaVersion: number; manifests: Descriptor[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch {
    // No index yet: this is a new layout.
  }
  index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  index.manifests.push({ ...target, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(indexPath, JSON.stringify(index));
}

/**
 * Writes (or adds to) an OCI image layout at `dir` holding one image tagged `tag`
 * whose layers are the given uncompressed tars, gzip-compressed.
 */
export async function writeOciLayout(dir: string, tag: string, layerTars: Buffer[], options: ImageOptions = {}): Promise<WrittenOciImage> {
  const image = await writeOciImage(dir, layerTars, options);
  await tagInOciLayout(dir, tag, image.manifest);
  return image;
}

/** What writeOciImageIndex produced. */
export interface WrittenOciIndex {
  index: Descriptor;
  indexBytes: Buffer;
  images: WrittenOciImage[];
}

/** Writes an image index over one image per architecture (same layers) and tags it in the layout. */
export async function writeOciImageIndex(dir: string, tag: string, layerTars: Buffer[], architectures: string[], options: ImageOptions = {}): Promise<WrittenOciIndex> {
  const images: WrittenOciImage[] = [];
  for (const architecture of architectures) images.push(await writeOciImage(dir, layerTars, { ...options, architecture }));
  const indexBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map((image, i) => ({ ...image.manifest, platform: { architecture: architectures[i], os: 'linux' } })),
  }));
  const index = await putBlob(dir, indexBytes, 'application/vnd.oci.image.index.v1+json');
  await tagInOciLayout(dir, tag, index);
  return { index, indexBytes, images };
}

