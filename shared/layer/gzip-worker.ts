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

// Samples of a block deflated quickly to tell whether compressing it is worth the time.
const PROBE_BYTES = 16 * 1024;
const INCOMPRESSIBLE_RATIO = 0.97;

/**
 * The level a block is deflated at: 0 (stored) when quick samples from its start, middle and end
 * do not compress, as for already-compressed files, which level 6 would spend its time on for
 * nothing. Decided by the bytes alone, so the output stays deterministic.
 */
export function effectiveLevel(data: Buffer, level: number): number {
  if (level === 0 || data.length < PROBE_BYTES * 4) return level;
  const starts = [0, Math.floor((data.length - PROBE_BYTES) / 2), data.length - PROBE_BYTES];
  const incompressible = starts.every(
    (start) => deflateRawSync(data.subarray(start, start + PROBE_BYTES), { level: 1 }).length >= PROBE_BYTES * INCOMPRESSIBLE_RATIO,
  );
  return incompressible ? 0 : level;
}

function owned(buffer: Uint8Array): boolean {
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
}

parentPort?.on('message', (task: DeflateTask) => {
  try {
    const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
    // Non-final blocks end with a sync flush (an empty stored block), so they end on a byte
    // boundary and the next block's deflate output can simply follow.
    const deflated = deflateRawSync(data, {
      level: effectiveLevel(data, task.level),
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
