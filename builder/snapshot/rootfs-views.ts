import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layer } from '../../shared/image.js';
import { makeScratchDirectory } from '../build-root.js';
import { materializeRootfs } from '../rootfs.js';
import { chainIds, type LayerSnapshots } from './layer-snapshots.js';
import { mountOverlay, OverlayUnavailableError, unmount } from './overlay-mount.js';

/**
 * Stages' and images' filesystems as directories, for COPY (existing paths, `--from`, `--chown`
 * names) and RUN --mount=type=bind: a read-only overlay of the layers' snapshots, mounted once per
 * chain for the build and unmounted by close(), so a COPY after a big RUN unpacks nothing. Where
 * overlayfs cannot be mounted (not root), the layers are unpacked into one directory per chain instead.
 */
export class RootfsViews {
  private readonly views = new Map<string, Promise<string>>();
  private readonly mounted: string[] = [];
  private workspace: Promise<string> | undefined;
  private mounts = 0;
  // Only root mounts overlays; checked first, since making snapshots (mknod of whiteouts) needs root too.
  private overlay = process.getuid?.() === 0;

  constructor(
    private readonly snapshots: LayerSnapshots,
    /** The build root, whose scratch directory holds the mount points. */
    private readonly root: string,
    /** Where unpacked chains are kept without overlayfs. */
    private readonly unpackedRoot: string,
  ) {}

  /** The filesystem `layers` make, as a directory; read it, never write it. */
  view(layers: readonly Layer[]): Promise<string> {
    const id = layers.length === 0 ? 'empty' : chainIds(layers).at(-1)!;
    let view = this.views.get(id);
    if (!view) {
      view = this.make(layers);
      this.views.set(id, view);
      view.catch(() => this.views.delete(id));
    }
    return view;
  }

  /** Unmounts every view. */
  async close(): Promise<void> {
    for (const target of this.mounted.splice(0).reverse()) await unmount(target);
    if (this.workspace) await rm(await this.workspace, { recursive: true, force: true });
  }

  private async make(layers: readonly Layer[]): Promise<string> {
    if (this.overlay) {
      const lowerDirs = (await this.snapshots.prepare(layers)).reverse();
      this.workspace ??= makeScratchDirectory(this.root, 'views');
      const target = join(await this.workspace, String(this.mounts++));
      try {
        await mountOverlay({ lowerDirs, target });
        this.mounted.push(target);
        return target;
      } catch (error) {
        if (!(error instanceof OverlayUnavailableError)) throw error;
        // Not root, or no overlayfs: COPY-only builds still work, from unpacked copies.
        this.overlay = false;
      }
    }
    return materializeRootfs(layers, this.unpackedRoot);
  }
}
