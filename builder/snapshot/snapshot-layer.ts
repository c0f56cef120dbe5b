import { pipeline, type Readable } from 'node:stream';
import type { Digest } from '../../shared/digest.js';
import { digestVerifier } from '../../shared/digest-verifier.js';
import type { Layer } from '../../shared/image.js';
import { layerTar } from '../../shared/layer/tar-writer.js';
import type { Descriptor } from '../../shared/oci.js';
import { overlayDiff } from './overlay-diff.js';

/** Raised when a snapshot no longer makes the tar its layer was hashed from. */
export class SnapshotChangedError extends Error {}

/**
 * A RUN's layer, kept only as its snapshot (the RUN's upper dir, as BuildKit keeps its layers):
 * its tar is made again from the directory when it is read, exactly as when the RUN was diffed,
 * and checked against the diffID on the way, so a snapshot changed since fails the read.
 */
export class SnapshotLayer implements Layer {
  constructor(
    readonly descriptor: Descriptor,
    readonly diffId: Digest,
    readonly directory: string,
    /** The SOURCE_DATE_EPOCH the layer was made with: its tar clamps mtimes to it again. */
    private readonly sourceDateEpoch: number | undefined,
  ) {}

  async open(): Promise<Readable> {
    const tar = layerTar(await overlayDiff(this.directory), { sourceDateEpoch: this.sourceDateEpoch });
    const mismatch = (actual: Digest) =>
      new SnapshotChangedError(`the snapshot ${this.directory} of layer ${this.diffId} now makes a tar with digest ${actual}: it was changed; remove it, or build with --no-cache`);
    // pipeline() with a callback carries a failure of the tar (a file gone) into what the reader reads.
    return pipeline(tar, digestVerifier(this.diffId, mismatch), () => {});
  }
}
