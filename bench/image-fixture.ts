/** A small but well-formed OCI image (config, one gzipped tar layer, manifest) for the manifest GET benchmark. */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface FixtureBlob {
  mediaType: string;
  digest: string;
  data: Buffer;
}

export interface ImageFixture {
  config: FixtureBlob;
  layer: FixtureBlob;
  manifest: FixtureBlob;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mode: 0o644, mtime, uid: 0, gid: 0 }, content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function buildImageFixture(): Promise<ImageFixture> {
  const layerTar = await tarOf({ 'etc/wharf-bench.txt': 'wharf registry benchmark\n' });
  const layerData = gzipSync(layerTar);
  const layer: FixtureBlob = { mediaType: OCI_LAYER_GZIP, digest: sha256(layerData), data: layerData };

  const configData = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'wharf bench' }],
    }),
  );
  const config: FixtureBlob = { mediaType: OCI_CONFIG, digest: sha256(configData), data: configData };

  const manifestData = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.data.length },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.data.length }],
    }),
  );
  const manifest: FixtureBlob = { mediaType: OCI_MANIFEST, digest: sha256(manifestData), data: manifestData };
  return { config, layer, manifest };
}
