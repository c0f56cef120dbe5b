import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { crc32Combine } from './crc32.js';
import type { DeflateResult, DeflateTask } from './gzip-worker.js';

/** Options of createParallelGzip(). */
export interface ParallelGzipOptions {
  /** zlib level 0–9; default 6 (gzip's, pigz's and Go's default). */
  readonly level?: number;
  /** Bytes of input per block; default 1 MiB. Part of the output format: same size, same bytes. */
  readonly blockSize?: number;
  /** Worker threads; default the number of cores. Does not change the output. */
  readonly workers?: number;
}

export const DEFAULT_GZIP_BLOCK_SIZE = 1024 * 1024;
const WINDOW = 32 * 1024; // deflate's window: the dictionary each block gets from the one before

interface Job {
  readonly resolve: (result: { deflated: Buffer; crc: number }) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Worker threads deflating blocks. Jobs are posted to a worker as soon as they come (to the least
 * busy one), so a worker goes from block to block without waiting for the main thread, which may
 * be slow to get a core on a busy machine. Idle workers are unref'd and never keep the process alive.
 */
class DeflatePool {
  private readonly workers = new Map<Worker, Job[]>();

  constructor(private readonly size: number) {}

  run(task: DeflateTask, transfer: ArrayBuffer[]): Promise<{ deflated: Buffer; crc: number }> {
    return new Promise((resolve, reject) => {
      let worker: Worker | undefined;
      let least = Infinity;
      for (const [candidate, jobs] of this.workers) {
        if (jobs.length < least) [worker, least] = [candidate, jobs.length];
      }
      if (!worker || (least > 0 && this.workers.size < this.size)) worker = this.spawn();
      const jobs = this.workers.get(worker)!;
      jobs.push({ resolve, reject });
      if (jobs.length === 1) worker.ref();
      worker.postMessage(task, transfer);
    });
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./gzip-worker.js', import.meta.url));
    const jobs: Job[] = [];
    this.workers.set(worker, jobs);
    worker.on('message', (result: DeflateResult) => {
      // A worker answers its jobs in the order they were posted.
      const job = jobs.shift();
      if (jobs.length === 0) worker.unref();
      if (!job) return;
      if ('error' in result) job.reject(new Error(`gzip worker: ${result.error}`));
      else job.resolve({ deflated: Buffer.from(result.deflated.buffer, result.deflated.byteOffset, result.deflated.byteLength), crc: result.crc });
    });
    const fail = (err: Error): void => {
      // A dead worker is replaced by the next job; the jobs it held fail.
      if (this.workers.get(worker) !== jobs) return;
      this.workers.delete(worker);
      for (const job of jobs.splice(0)) job.reject(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`gzip worker exited with code ${code}`)));
    return worker;
  }
}

const pools = new Map<number, DeflatePool>();

function poolOf(size: number): DeflatePool {
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new DeflatePool(size)));
  return pool;
}

/**
 * Gzip that uses every core, block-wise as pigz does: the input is cut into fixed-size blocks,
 * each deflated on a worker thread with the previous 32 KiB as its dictionary and ended with a
 * sync flush, and the blocks are emitted in order as one gzip member whose CRC-32 is combined
 * from the blocks'. Any gzip reader reads it; the same input gives the same bytes, whatever the
 * number of workers or how the input is chunked. The header has no name and mtime 0.
 */
export function createParallelGzip(options: ParallelGzipOptions = {}): Transform {
  return new ParallelGzip(options);
}

class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly pool: DeflatePool;
  private readonly maxInFlight: number;
  private block: Buffer;
  private filled = 0;
  private dictionary: Buffer | undefined;
  private dispatched = 0;
  private emitted = 0;
  private readonly finished = new Map<number, { deflated: Buffer; crc: number; length: number }>();
  private crc = 0;
  private length = 0;
  private blocked: TransformCallback | undefined;
  private flushed: TransformCallback | undefined;

  constructor(options: ParallelGzipOptions) {
    super({ readableHighWaterMark: 1024 * 1024 });
    this.level = options.level ?? 6;
    this.blockSize = options.blockSize ?? DEFAULT_GZIP_BLOCK_SIZE;
    if (!Number.isInteger(this.level) || this.level < 0 || this.level > 9) throw new RangeError(`gzip level must be 0–9, got ${this.level}`);
    if (!Number.isInteger(this.blockSize) || this.blockSize < WINDOW) throw new RangeError(`gzip block size must be at least ${WINDOW} bytes`);
    const workers = Math.max(1, options.workers ?? availableParallelism());
    this.pool = poolOf(workers);
    this.maxInFlight = workers * 4; // slack so one slow block does not idle the other workers
    this.block = Buffer.allocUnsafeSlow(this.blockSize);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.blockSize - this.filled);
      chunk.copy(this.block, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === this.blockSize) this.dispatch(false);
    }
    if (this.dispatched - this.emitted >= this.maxInFlight) this.blocked = callback;
    else callback();
  }

  override _flush(callback: TransformCallback): void {
    this.flushed = callback;
    this.dispatch(true);
  }

  private dispatch(final: boolean): void {
    const id = this.dispatched++;
    const length = this.filled;
    const data = new Uint8Array(this.block.buffer, 0, length);
    const dictionary = this.dictionary;
    // The next block's dictionary is copied out before this block's memory moves to the worker.
    this.dictionary = length >= WINDOW ? Buffer.from(this.block.subarray(length - WINDOW, length)) : undefined;
    const task: DeflateTask = { id, data, final, level: this.level, ...(dictionary ? { dictionary } : {}) };
    const transfer = [this.block.buffer as ArrayBuffer];
    this.block = Buffer.allocUnsafeSlow(this.blockSize);
    this.filled = 0;
    this.pool.run(task, transfer).then(
      (result) => {
        this.finished.set(id, { ...result, length });
        this.emitReady();
      },
      (err: Error) => this.destroy(err),
    );
  }

  /** Pushes finished blocks in order; releases a held write or the flush when there is room. */
  private emitReady(): void {
    if (this.destroyed) return;
    for (let next = this.finished.get(this.emitted); next; next = this.finished.get(this.emitted)) {
      this.finished.delete(this.emitted);
      if (this.emitted === 0) this.push(gzipHeader(this.level));
      this.push(next.deflated);
      this.crc = crc32Combine(this.crc, next.crc, next.length);
      this.length += next.length;
      this.emitted++;
    }
    if (this.blocked && this.dispatched - this.emitted < this.maxInFlight) {
      const callback = this.blocked;
      this.blocked = undefined;
      callback();
    }
    if (this.flushed && this.emitted === this.dispatched) {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc, 0);
      trailer.writeUInt32LE(this.length % 2 ** 32, 4);
      const callback = this.flushed;
      this.flushed = undefined;
      callback(null, trailer);
    }
  }
}

/** Magic, deflate, no flags, mtime 0, XFL as gzip sets it for the level, OS "unknown" (as Go writes). */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, xfl, 0xff]);
}
