import { spawn } from 'node:child_process';
import { Duplex, PassThrough, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { createParallelGzip } from './parallel-gzip.js';

/** How a layer's tar is compressed (`wharf build --compression`). */
export type Compression = 'gzip' | 'zstd' | 'none';

export const COMPRESSIONS: readonly Compression[] = ['gzip', 'zstd', 'none'];

/** Raised when a compression cannot be used on this machine (zstd without Node ≥ 22.15 or the zstd command). */
export class CompressionUnavailableError extends Error {}

/** Options of createCompressor(). */
export interface CompressorOptions {
  /** gzip: 0–9, default 6; zstd: 1–19, default 3. */
  readonly level?: number;
}

/** The `zstd` command used when node:zlib has no zstd. */
export const ZSTD_COMMAND = 'zstd';

type ZstdZlib = {
  createZstdCompress?: (options?: { params?: Record<number, number> }) => Transform;
  createZstdDecompress?: () => Transform;
  constants: Record<string, number>;
};
const zstdZlib = zlib as unknown as ZstdZlib;

/** Whether node:zlib compresses zstd itself (Node ≥ 22.15 / 23.8). */
export function nativeZstdAvailable(): boolean {
  return typeof zstdZlib.createZstdCompress === 'function';
}

let zstdCommandProbe: Promise<boolean> | undefined;

/** Whether the `zstd` command runs here. */
export function zstdCommandAvailable(): Promise<boolean> {
  zstdCommandProbe ??= new Promise((resolve) => {
    const child = spawn(ZSTD_COMMAND, ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
  return zstdCommandProbe;
}

/** Why zstd cannot be used here, or undefined when it can. */
export async function zstdUnavailableReason(): Promise<string | undefined> {
  if (nativeZstdAvailable() || (await zstdCommandAvailable())) return undefined;
  return `zstd compression needs Node.js ≥ 22.15 (node:zlib zstd) or the zstd command (apt-get install zstd); this is Node.js ${process.version} without zstd on PATH`;
}

/**
 * A stream compressing what is written to it. gzip uses every core (parallel-gzip); zstd uses
 * node:zlib when it has zstd, else the `zstd` command with all cores (its multi-threaded output
 * does not depend on the number of threads); none passes bytes through. Throws
 * CompressionUnavailableError when zstd cannot be used here.
 */
export async function createCompressor(compression: Compression, options: CompressorOptions = {}): Promise<Duplex> {
  switch (compression) {
    case 'none':
      return new PassThrough({ highWaterMark: 1024 * 1024 });
    case 'gzip':
      return createParallelGzip({ ...(options.level !== undefined ? { level: options.level } : {}) });
    case 'zstd': {
      const level = options.level ?? 3;
      if (!Number.isInteger(level) || level < 1 || level > 19) throw new RangeError(`zstd level must be 1–19, got ${level}`);
      if (nativeZstdAvailable()) {
        const c = zstdZlib.constants;
        const params: Record<number, number> = {};
        if (c.ZSTD_c_compressionLevel !== undefined) params[c.ZSTD_c_compressionLevel] = level;
        if (c.ZSTD_c_checksumFlag !== undefined) params[c.ZSTD_c_checksumFlag] = 1; // as the zstd command writes frames
        return zstdZlib.createZstdCompress!({ params });
      }
      if (await zstdCommandAvailable()) return commandStream(ZSTD_COMMAND, ['-q', '-c', `-${level}`, '-T0', '--no-progress']);
      throw new CompressionUnavailableError((await zstdUnavailableReason())!);
    }
    default:
      throw new RangeError(`unknown compression "${compression as string}" (expected ${COMPRESSIONS.join(', ')})`);
  }
}

/** How a layer blob of this media type is compressed (`…tar+gzip`, `…tar.gzip`, `…tar+zstd`, `…tar`). */
export function compressionOfMediaType(mediaType: string): Compression {
  if (mediaType.endsWith('gzip')) return 'gzip';
  return mediaType.endsWith('zstd') ? 'zstd' : 'none';
}

/**
 * A stream decompressing what is written to it: gzip with node:zlib, zstd with node:zlib when it
 * has zstd, else the `zstd` command. Throws CompressionUnavailableError when zstd cannot be read here.
 */
export async function createDecompressor(compression: Compression): Promise<Duplex> {
  switch (compression) {
    case 'none':
      return new PassThrough({ highWaterMark: 1024 * 1024 });
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd':
      if (zstdZlib.createZstdDecompress) return zstdZlib.createZstdDecompress();
      if (await zstdCommandAvailable()) return commandStream(ZSTD_COMMAND, ['-d', '-q', '-c', '--no-progress']);
      throw new CompressionUnavailableError((await zstdUnavailableReason())!);
    default:
      throw new RangeError(`unknown compression "${compression as string}" (expected ${COMPRESSIONS.join(', ')})`);
  }
}

/**
 * A child process as a Duplex: writes go to its stdin, its stdout is read. The readable side ends
 * only once the process has exited with status 0, so truncated output is never taken for whole.
 */
function commandStream(command: string, args: string[]): Duplex {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  const duplex = new Duplex({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (child.stdin.write(chunk)) callback();
      else child.stdin.once('drain', () => callback());
    },
    final(callback) {
      child.stdin.end(callback);
    },
    read() {
      child.stdout.resume();
    },
    destroy(err, callback) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      callback(err);
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause();
  });
  child.stdin.on('error', (err) => duplex.destroy(err));
  child.on('error', (err) => duplex.destroy(err));
  child.on('close', (code, signal) => {
    if (code === 0) duplex.push(null);
    else if (!duplex.destroyed) {
      duplex.destroy(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output'}`));
    }
  });
  return duplex;
}
