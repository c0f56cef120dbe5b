// Helpers for the build-context tests: temporary trees built from a compact description.
import { chmod, link, lchown, lutimes, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pack } from 'tar-stream';
import type { ExistingPath } from '../../builder/context/copy-plan.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';

/** What one path of a test tree is. Strings are file contents. */
export type NodeSpec =
  | string
  | { readonly file: string | Buffer; readonly mode?: number; readonly mtime?: number; readonly uid?: number; readonly gid?: number }
  | { readonly dir: true; readonly mode?: number; readonly mtime?: number; readonly uid?: number; readonly gid?: number }
  | { readonly symlink: string; readonly uid?: number; readonly gid?: number }
  | { readonly hardlink: string };

/** A fresh temporary directory; remove it with removeDir. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `wharf-context-${prefix}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Creates the described paths under root, in the order given (parents made 0755 as needed). Directory times are set last. */
export async function makeTree(root: string, spec: Readonly<Record<string, NodeSpec>>): Promise<void> {
  const directoryTimes: [string, number][] = [];
  for (const [path, node] of Object.entries(spec)) {
    const host = join(root, path);
    await mkdir(dirname(host), { recursive: true });
    if (typeof node === 'string' || 'file' in node) {
      const file = typeof node === 'string' ? { file: node } : node;
      await writeFile(host, file.file);
      await chmod(host, file.mode ?? 0o644);
      if (file.uid !== undefined) await lchown(host, file.uid, file.gid ?? file.uid);
      if (file.mtime !== undefined) await utimes(host, file.mtime, file.mtime);
    } else if ('dir' in node) {
      await mkdir(host, { recursive: true });
      await chmod(host, node.mode ?? 0o755);
      if (node.uid !== undefined) await lchown(host, node.uid, node.gid ?? node.uid);
      if (node.mtime !== undefined) directoryTimes.push([host, node.mtime]);
    } else if ('symlink' in node) {
      await symlink(node.symlink, host);
      if (node.uid !== undefined) await lchown(host, node.uid, node.gid ?? node.uid);
    } else {
      await link(join(root, node.hardlink), host);
    }
  }
  for (const [host, mtime] of directoryTimes.reverse()) await utimes(host, mtime, mtime);
}

/** Sets the mtime of a symlink itself. */
export function setLinkTime(path: string, mtime: number): Promise<void> {
  return lutimes(path, mtime, mtime);
}

/** One line per entry, sorted: `path type mode uid:gid [-> target]` (modes in octal). */
export function describe(entries: readonly LayerEntry[]): string[] {
  return entries
    .map((entry) => {
      if (entry.type === 'whiteout' || entry.type === 'opaque') return `${entry.path} ${entry.type}`;
      const target = entry.type === 'symlink' || entry.type === 'hardlink' ? ` -> ${entry.target}` : '';
      return `${entry.path} ${entry.type} ${entry.mode.toString(8).padStart(4, '0')} ${entry.uid}:${entry.gid}${target}`;
    })
    .sort();
}

/** A destination lookup over an in-memory description: `path` → directory/file/symlink. */
export function memoryLookup(spec: Readonly<Record<string, Partial<ExistingPath> & { type: ExistingPath['type'] }>>) {
  return (path: string): ExistingPath | undefined => {
    const found = spec[path];
    return found ? { mode: 0o755, uid: 0, gid: 0, mtime: 1_000_000, ...found } : undefined;
  };
}

/** One archive member: a tar-stream header and, for files, its text. */
export type TarItem = { header: Record<string, unknown> & { name: string }; content?: string };

/** A tar archive of the items, built in memory. */
export async function tarOf(items: readonly TarItem[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const item of items) {
    await new Promise<void>((resolve, reject) =>
      archive.entry(item.header as never, item.content ?? '', (error) => (error ? reject(error) : resolve())),
    );
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
