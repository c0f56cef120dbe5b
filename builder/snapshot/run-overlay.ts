import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../shared/digest.js';
import type { Layer } from '../../shared/image.js';
import { makeScratchDirectory } from '../build-root.js';
import { chainIds, type LayerSnapshots } from './layer-snapshots.js';
import { withOverlay } from './overlay-mount.js';

/** What a command changed in an overlay: its upper dir, to diff and then keep as a snapshot or throw away. */
export interface OverlayChanges {
  readonly upperDir: string;
  /** Makes the upper dir the snapshot of `layer` (the layer made of it) on top of the overlay's layers; returns its chain ID. */
  keep(layer: Pick<Layer, 'diffId'>): Promise<Digest>;
  /** Removes what is left of the workspace; call it whatever happened. */
  release(): Promise<void>;
}

/**
 * Mounts `layers` (unpacked once each, as snapshots) under a fresh upper dir in a `<pid>-run-…`
 * scratch directory of build root `root`, runs `fn` on the merged view, and unmounts however `fn` ends. The
 * workspace is in the build root, on the snapshots' filesystem, so keep() is a rename.
 */
export async function runInOverlay(snapshots: LayerSnapshots, root: string, layers: readonly Layer[], fn: (rootfs: string) => Promise<void>): Promise<OverlayChanges> {
  const lowerDirs = (await snapshots.prepare(layers)).reverse();
  const workspace = await makeScratchDirectory(root, 'overlay');
  const upperDir = join(workspace, 'upper');
  const release = () => rm(workspace, { recursive: true, force: true });
  try {
    await withOverlay({ lowerDirs, upperDir, workDir: join(workspace, 'work'), target: join(workspace, 'merged') }, fn);
  } catch (error) {
    await release();
    throw error;
  }
  return {
    upperDir,
    keep: async (layer) => {
      await snapshots.adopt(layers, layer, upperDir);
      return chainIds([...layers, layer]).at(-1)!;
    },
    release,
  };
}
