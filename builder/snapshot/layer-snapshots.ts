import { createHash } from 'node:crypto';
import { mkdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mapConcurrently } from '../../shared/concurrency.js';
import type { Digest } from '../../shared/digest.js';
import type { Layer } from '../../shared/image.js';
import { makeDirectoryOnce } from '../directory-once.js';
import { unpackLowerDir } from './lower-dir.js';

/** Layers unpacked at once by prepare(): unpacking is gunzip and small writes, a few keep the disk busy. */
const UNPACK_CONCURRENCY = 4;

/** The OCI ChainID of each prefix of `layers`: the first layer's DiffID, then sha256(parent ChainID + " " + DiffID). */
export function chainIds(layers: readonly Pick<Layer, 'diffId'>[]): Digest[] {
  const ids: Digest[] = [];
  for (const layer of layers) {
    const parent = ids.at(-1);
    ids.push(parent === undefined ? layer.diffId : (`sha256:${createHash('sha256').update(`${parent} ${layer.diffId}`).digest('hex')}` as Digest));
  }
  return ids;
}

/**
 * Each layer unpacked once, alone, in overlayfs lower-dir form, in `<root>/<chain ID hex>`; RUN
 * steps mount them as the lower dirs of an overlay. Each also has a short name, `<root>/l/<16
 * chars>`, a symlink: a mount's options fit in one page, and 120 chain IDs would not.
 */
export class LayerSnapshots {
  constructor(readonly root: string) {}

  /** One lower dir per layer, in the layers' order (bottom first; overlayfs lists them top-most first). */
  async prepare(layers: readonly Layer[]): Promise<string[]> {
    const ids = chainIds(layers);
    const chain = layers.map((layer, i) => ({ layer, id: ids[i]! }));
    return mapConcurrently(chain, UNPACK_CONCURRENCY, ({ layer, id }) => this.snapshot(id, (building) => unpackLowerDir(layer, building)));
  }

  /**
   * Makes `upperDir`, the unmounted upper dir of the RUN that built `layer` over `parents`, that
   * layer's snapshot: it already is its lower-dir form (whiteouts, opaque dirs), so the next RUN
   * does not unpack the layer. `upperDir` is moved (it must be on this filesystem) or, when the
   * snapshot exists already, removed. Returns the lower dir.
   */
  async adopt(parents: readonly Layer[], layer: Pick<Layer, 'diffId'>, upperDir: string): Promise<string> {
    const id = chainIds([...parents, layer]).at(-1)!;
    return this.snapshot(id, async (building) => {
      await rm(building, { recursive: true, force: true });
      await rename(upperDir, building);
    }).finally(() => rm(upperDir, { recursive: true, force: true }));
  }

  /** The directory of chain `id`'s snapshot (which may not exist). */
  directory(id: Digest): string {
    return join(this.root, id.slice(id.indexOf(':') + 1));
  }

  /** Whether chain `id` has a snapshot. */
  async has(id: Digest): Promise<boolean> {
    return (await stat(this.directory(id)).catch(() => undefined))?.isDirectory() ?? false;
  }

  /** The lower dir of chain `id`, made by `fill` (into an empty temporary directory) unless it exists. */
  private async snapshot(id: Digest, fill: (building: string) => Promise<void>): Promise<string> {
    const hex = id.slice(id.indexOf(':') + 1);
    await makeDirectoryOnce(this.directory(id), fill);
    await this.link(hex);
    return this.shortName(hex);
  }

  private shortName(hex: string): string {
    return join(this.root, 'l', Buffer.from(hex.slice(0, 24), 'hex').toString('base64url'));
  }

  /** Makes the short-name symlink of a snapshot, or checks the existing one points at it (96 bits: a clash is a bug). */
  private async link(hex: string): Promise<void> {
    const name = this.shortName(hex);
    const target = `../${hex}`;
    await mkdir(join(this.root, 'l'), { recursive: true });
    try {
      await symlink(target, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = await readlink(name);
      if (existing !== target) throw new Error(`snapshot short name ${name} points at ${existing}, not ${target}`);
    }
  }
}
