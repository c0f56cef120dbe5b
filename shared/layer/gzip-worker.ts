// A worker of parallel-gzip's pool: deflates one block as pigz does and reports its CRC-32.
import { parentPort } from 'node:worker_threads';
import { constants, deflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';

/** A block to deflate: `dictionary` is the 32 KiB of input before it, `final` ends the deflate stream. */
export interface DeflateTask {
  readonly id: number;
  readonly data: Uint8Array;
  readonly dictionary?: Uint8Array;
  readonly final: boolean;
  readonly level: number;
}

export type DeflateResult =
  | { readonly id: number; readonly deflated: Uint8Array; readonly crc: number }
  | { readonly id: number; readonly error: string };

function owned(buffer: Uint8Array): boolean {
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
}

parentPort?.on('message', (task: DeflateTask) => {
  try {
    const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
    // Non-final blocks end with a sync flush (an empty stored block), so they end on a byte
    // boundary and the next block's deflate output can simply follow.
    const deflated = deflateRawSync(data, {
      level: task.level,
      chunkSize: 256 * 1024,
      finishFlush: task.final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...(task.dictionary ? { dictionary: Buffer.from(task.dictionary.buffer, task.dictionary.byteOffset, task.dictionary.byteLength) } : {}),
    });
    const result: DeflateResult = { id: task.id, deflated, crc: crc32(data) };
    parentPort!.postMessage(result, owned(deflated) ? [deflated.buffer as ArrayBuffer] : []);
  } catch (err) {
    parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies DeflateResult);
  }
});
