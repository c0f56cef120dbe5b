/**
 * Layer export throughput: wharf turning a RUN's upper dir into a compressed layer, as the builder
 * does it (overlayDiff, then writeLayer: tar, parallel gzip and both digests, into a content store),
 * called in this process, against single-core `tar | gzip` of the same tree.
 */
import { rm } from 'node:fs/promises';
import { overlayDiff } from '../builder/snapshot/overlay-diff.js';
import { ContentStore } from '../shared/content-store.js';
import { writeLayer } from '../shared/layer/layer-writer.js';
import { sync } from './host-commands.js';
import { runTimed } from './timed-command.js';

/** One export of the tree. */
export interface ExportRun {
  seconds: number;
  /** User + system CPU seconds, on every core. */
  cpuSeconds: number;
  /** Bytes of the uncompressed tar. */
  tarBytes: number;
  /** Bytes of the compressed output. */
  outputBytes: number;
}

/** overlayDiff + writeLayer (gzip level 6, OCI) of `tree` into a content store at `storeDir`, which is removed afterwards. */
export async function wharfExport(tree: string, storeDir: string): Promise<ExportRun> {
  sync();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  try {
    const layer = await writeLayer(await overlayDiff(tree), new ContentStore(storeDir), { compression: 'gzip', format: 'oci' });
    const seconds = (performance.now() - started) / 1000;
    // The process's CPU time: the gzip worker threads' included.
    const cpu = process.cpuUsage(cpuBefore);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, tarBytes: layer.uncompressedSize!, outputBytes: layer.descriptor.size };
  } finally {
    await rm(storeDir, { recursive: true, force: true });
  }
}

/** The tar of `tree`'s contents as GNU tar writes it, in a shell pipeline ending in `tail`. */
function tarPipeline(tail: string): string[] {
  return ['-c', `tar -cf - -C "$1" . | ${tail}`, 'sh'];
}

/** Bytes of the uncompressed GNU tar of `tree` (untimed: the denominator of gzip's MB/s). */
export async function gnuTarBytes(tree: string): Promise<number> {
  const { stdout } = await runTimed({ command: 'sh', args: [...tarPipeline('wc -c'), tree] });
  return Number(stdout.trim());
}

/** `tar -cf - | gzip -LEVEL` of `tree`, timed; gzip's output is only counted. */
export async function gzipExport(tree: string, level: number, tarBytes: number): Promise<ExportRun> {
  sync();
  const result = await runTimed({ command: 'sh', args: [...tarPipeline(`gzip -${level} | wc -c`), tree] });
  return { seconds: result.ms / 1000, cpuSeconds: result.cpuSeconds, tarBytes, outputBytes: Number(result.stdout.trim()) };
}
