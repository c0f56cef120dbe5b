// A tiny two-layer image built the way the builder builds one (LayerEntry[] → writeLayer →
// assembleImage), for the exporter tests: a static busybox with applet symlinks, then a layer
// that adds a file, hardlinks it and whites out a file of the first layer.
import { stat } from 'node:fs/promises';
import type { ContentStore } from '../../shared/content-store.js';
import type { Image } from '../../shared/image.js';
import { assembleImage } from '../../shared/image-assembly.js';
import type { Compression } from '../../shared/layer/compression.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { writeLayer, type ImageFormat } from '../../shared/layer/layer-writer.js';

/** Where Debian's busybox-static puts the binary. */
export const BUSYBOX = '/bin/busybox';

/** Why the busybox image cannot be built here, or undefined. */
export async function busyboxUnavailableReason(): Promise<string | undefined> {
  const info = await stat(BUSYBOX).catch(() => undefined);
  return info?.isFile() ? undefined : `${BUSYBOX} not found (Debian package busybox-static)`;
}

/** The file whose content the tests read back from a container. */
export const MARKER_PATH = 'etc/wharf-export.txt';

const APPLETS = ['sh', 'cat', 'ls', 'test', 'echo', 'true'];
const EPOCH = 946_684_800; // 2000-01-01, so the layers do not depend on when they were built

/** The CPU architecture as OCI configs name it. */
export function ociArchitecture(): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return names[process.arch] ?? process.arch;
}

/** Builds the image into `store`; `marker` is the content of /etc/wharf-export.txt. */
export async function buildBusyboxImage(store: ContentStore, marker: string, format: ImageFormat, compression: Compression = 'gzip'): Promise<Image> {
  const meta = { uid: 0, gid: 0, mtime: EPOCH };
  const busyboxSize = (await stat(BUSYBOX)).size;
  const base: LayerEntry[] = [
    { type: 'directory', path: 'bin', ...meta, mode: 0o755 },
    { type: 'file', path: 'bin/busybox', ...meta, mode: 0o755, size: busyboxSize, source: { file: BUSYBOX } },
    ...APPLETS.map((applet): LayerEntry => ({ type: 'symlink', path: `bin/${applet}`, ...meta, mode: 0o777, target: 'busybox' })),
    { type: 'directory', path: 'etc', ...meta, mode: 0o755 },
    { type: 'file', path: 'etc/removed.txt', ...meta, mode: 0o644, size: 5, source: { content: Buffer.from('gone\n') } },
    { type: 'directory', path: 'tmp', ...meta, mode: 0o1777 },
  ];
  const content = Buffer.from(marker);
  const top: LayerEntry[] = [
    { type: 'directory', path: 'etc', ...meta, mode: 0o755 },
    { type: 'file', path: MARKER_PATH, ...meta, mode: 0o644, size: content.length, source: { content } },
    { type: 'hardlink', path: 'etc/a-hardlink.txt', ...meta, mode: 0o644, target: MARKER_PATH },
    { type: 'whiteout', path: 'etc/removed.txt' },
  ];
  const layers = [
    await writeLayer(base, store, { compression, format }),
    await writeLayer(top, store, { compression, format }),
  ];
  return assembleImage(
    {
      created: new Date(EPOCH * 1000).toISOString(),
      architecture: ociArchitecture(),
      os: 'linux',
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [] },
      history: [{ created_by: 'busybox' }, { created_by: 'marker' }],
    },
    layers,
    store,
    format,
  );
}
