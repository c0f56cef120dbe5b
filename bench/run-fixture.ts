/**
 * The RUN benchmark's Dockerfile: on a static busybox base, one RUN writes a large tree (many small
 * text files in nested directories plus big incompressible files from /dev/urandom), a second
 * deletes and modifies part of it (whiteouts and copy-ups), a third writes one small file. The
 * first RUN's command also runs on the host, to give the layer export benchmark an equal tree.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runTimed } from './timed-command.js';

export interface RunFixtureSpec {
  smallFiles: number;
  bigFiles: number;
  bigFileBytes: number;
}

const MIB = 1024 * 1024;
/** Where the RUN steps write in the image. */
const DATA = '/data';
const FILES_PER_DIR = 50;
const DIRS_PER_PARENT = 20;
/** Small files are 3–126 lines of 32 hex digits: 99–4158 bytes, text that compresses about 2:1. */
const MIN_LINES = 3;
const LINE_SPREAD = 124;

/**
 * Shell that writes the tree under `data`: random bytes as hex lines, which awk deals out to the
 * small files (a line count per file that varies deterministically), then the big files. One pass
 * of od and awk, not a process per file, so the command costs what creating the files costs.
 */
export function treeCommand(data: string, spec: RunFixtureSpec): string {
  // i·7919 mod 124 cycles through 0…123, so N files take at most N·(3 + 61.5) + 124·126 lines of 16 bytes.
  const randomBytes = (spec.smallFiles * (MIN_LINES + 62) + LINE_SPREAD * (MIN_LINES + LINE_SPREAD)) * 16;
  const awk = [
    'function next_file() {',
    'if (i >= n) exit;',
    `if (i % ${FILES_PER_DIR} == 0) { d = p "/d" int(i / ${FILES_PER_DIR * DIRS_PER_PARENT}) "/e" int(i / ${FILES_PER_DIR}) % ${DIRS_PER_PARENT}; system("mkdir -p " d) }`,
    `f = d "/f" i ".txt"; want = ${MIN_LINES} + (i * 7919) % ${LINE_SPREAD}; lines = 0; i++ }`,
    'BEGIN { next_file() }',
    '{ print > f; if (++lines == want) { close(f); next_file() } }',
    'END { if (i < n) { print "out of random bytes at file " i > "/dev/stderr"; exit 1 } }',
  ].join(' ');
  return [
    `mkdir -p ${data}/big`,
    `busybox head -c ${randomBytes} /dev/urandom | busybox od -An -tx1 -v | busybox tr -d ' ' | busybox awk -v n=${spec.smallFiles} -v p=${data}/small '${awk}'`,
    `k=0`,
    `while [ $k -lt ${spec.bigFiles} ]; do busybox head -c ${spec.bigFileBytes} /dev/urandom > ${data}/big/blob-$k.bin; k=$((k + 1)); done`,
  ].join(' && ');
}

/**
 * Shell that changes the tree: removes the first parent directory, every tenth small file and the
 * first quarter of the big files (whiteouts), and appends a line to another tenth and to the last
 * big file (copy-ups of whole files).
 */
function changeCommand(spec: RunFixtureSpec): string {
  const deleted = Array.from({ length: Math.floor(spec.bigFiles / 4) }, (_, k) => `${DATA}/big/blob-${k}.bin`);
  return [
    `cd ${DATA}/small`,
    'rm -rf d0',
    'for d in d*/e*; do rm -f $d/f*0.txt; for f in $d/f*5.txt; do if [ -e $f ]; then echo changed >> $f; fi; done; done',
    ...(deleted.length > 0 ? [`rm ${deleted.join(' ')}`] : []),
    `echo changed >> ${DATA}/big/blob-${spec.bigFiles - 1}.bin`,
  ].join(' && ');
}

/** The RUN steps in order, as the Dockerfile and the progress output show them. */
export function runSteps(spec: RunFixtureSpec): string[] {
  return [`RUN ${treeCommand(DATA, spec)}`, `RUN ${changeCommand(spec)}`, 'RUN echo built > /built.txt'];
}

/** The Dockerfile, on `base` (an image reference both builders pull). */
export function runDockerfile(base: string, spec: RunFixtureSpec): string {
  return [`FROM ${base}`, ...runSteps(spec), ''].join('\n');
}

/** What the Dockerfile does, in one line for the report. */
export function describeRunFixture(spec: RunFixtureSpec): string {
  const lineBytes = 33;
  return (
    `a RUN writes ${spec.smallFiles.toLocaleString('en-US')} small files (${MIN_LINES * lineBytes}–${(MIN_LINES + LINE_SPREAD - 1) * lineBytes} B of hex text) ` +
    `+ ${spec.bigFiles} × ${(spec.bigFileBytes / MIB).toFixed(0)} MiB from /dev/urandom (${((spec.bigFiles * spec.bigFileBytes) / MIB).toFixed(0)} MiB), ` +
    'a second deletes and appends to a tenth of the small files, deletes a quarter of the big ones and appends to one, ' +
    'a third writes one file; on a static busybox base pulled from a local registry'
  );
}

/**
 * Writes the first RUN's tree under `dir`/data on the host, with the host's busybox, and returns
 * how long the command took: what the step costs before any builder work.
 */
export async function generateRunTree(dir: string, spec: RunFixtureSpec): Promise<number> {
  await mkdir(dir, { recursive: true });
  const result = await runTimed({ command: '/bin/busybox', args: ['sh', '-c', treeCommand(join(dir, 'data'), spec)] });
  return result.ms / 1000;
}
