import type { Readable } from 'node:stream';
import type { ContentStore } from '../content-store.js';
import type { Digest } from '../digest.js';
import type { Layer } from '../image.js';
import type { Descriptor } from '../oci.js';

/** A layer whose compressed blob is in a ContentStore (as writeLayer leaves it, or a cache hit finds it). */
export class StoredLayer implements Layer {
  constructor(
    readonly store: ContentStore,
    readonly descriptor: Descriptor,
    readonly diffId: Digest,
    /** Bytes of the uncompressed tar, when known. */
    readonly uncompressedSize?: number,
  ) {}

  /** The layer whose blob `descriptor` names, after checking the store holds it with that size. */
  static async fromStore(store: ContentStore, descriptor: Descriptor, diffId: Digest, uncompressedSize?: number): Promise<StoredLayer> {
    const size = await store.size(descriptor.digest);
    if (size === undefined) throw new Error(`layer ${descriptor.digest} is not in the content store at ${store.root}`);
    if (size !== descriptor.size) throw new Error(`layer ${descriptor.digest} is ${size} bytes in the content store, ${descriptor.size} expected`);
    return new StoredLayer(store, descriptor, diffId, uncompressedSize);
  }

  async open(): Promise<Readable> {
    return this.store.open(this.descriptor.digest);
  }
}
