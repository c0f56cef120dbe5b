import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Header } from 'tar-stream';
import type { Layer } from '../../shared/image.js';
import {
  OPAQUE_MARKER,
  WHITEOUT_PREFIX,
  cleanEntryPath,
  entryMetadata,
  hostPathOf,
  readLayerTar,
  resolveHostFolder,
  type Xattrs,
} from '../layer-reader.js';
import { runCommand } from '../run-command.js';
import { layerXattrs, writeXattrs } from './xattrs.js';

/** The xattr overlayfs reads to hide a lower directory's contents (`.wh..wh..opq`). */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** A node made after the tar is read: mknod and mkfifo run once per layer, not once per node. */
interface SpecialNode {
  readonly path: string;
  readonly kind: 'c' | 'b' | 'p';
  readonly major: number;
  readonly minor: number;
  readonly metadata: ReturnType<typeof entryMetadata>;
}

/** An unpacking's state: folders already made, and what it leaves for after the last entry. */
interface Unpacking {
  /**
   * Host folders by root-relative path, resolved and made: most entries share their folder with
   * the one before. Emptied whenever something is removed, which could be a folder or a symlink on the way.
   */
  readonly folders: Map<string, string>;
  readonly whiteouts: string[];
  readonly hardlinks: [path: string, target: string][];
  readonly nodes: SpecialNode[];
  readonly xattrs: Map<string, Xattrs>;
  /** Mtimes of directories, set once everything inside them is made. */
  readonly directoryTimes: Map<string, number>;
}

/**
 * Unpacks one layer alone into empty directory `dir` in overlayfs lower-dir form: `.wh.NAME`
 * becomes a whiteout (a 0:0 character device), `.wh..wh..opq` the opaque xattr of its directory;
 * owners, modes, mtimes, links, xattrs, devices and fifos are as the tar says.
 */
export async function unpackLowerDir(layer: Layer, dir: string): Promise<void> {
  const state: Unpacking = { folders: new Map(), whiteouts: [], hardlinks: [], nodes: [], xattrs: new Map(), directoryTimes: new Map() };
  await readLayerTar(layer, (header, content, xattrs) => unpackEntry(dir, header, content, xattrs, state));
  for (const [path, target] of state.hardlinks) {
    await replace(path, () => link(target, path), state).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new Error(`layer ${layer.descriptor.digest}: hardlink to a file not in this layer (${target})`) : error;
    });
  }
  await makeWhiteouts(state.whiteouts, `${dir}.whiteout`);
  await makeNodes(state.nodes);
  for (const { path, metadata } of state.nodes) await setMetadata(path, metadata);
  // Last: chown and writes clear security.capability, and each new name changes its directory's mtime.
  await writeXattrs(state.xattrs);
  for (const [path, mtime] of state.directoryTimes) await utimes(path, mtime, mtime);
}

async function unpackEntry(root: string, header: Header, content: AsyncIterable<Buffer>, xattrs: Xattrs, state: Unpacking): Promise<void> {
  const relative = cleanEntryPath(header.name);
  if (relative === '') return;
  const slash = relative.lastIndexOf('/');
  const base = relative.slice(slash + 1);
  const folder = await folderOf(root, slash < 0 ? '' : relative.slice(0, slash), state);
  if (base === OPAQUE_MARKER) {
    state.xattrs.set(folder, { ...state.xattrs.get(folder), [OPAQUE_XATTR]: Buffer.from('y') });
    return;
  }
  if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // aufs bookkeeping (.wh..wh.plnk): nothing to overlayfs
  if (base.startsWith(WHITEOUT_PREFIX)) {
    state.whiteouts.push(join(folder, base.slice(WHITEOUT_PREFIX.length)));
    return;
  }
  const path = join(folder, base);
  const metadata = entryMetadata(header);
  const carried = layerXattrs(xattrs);
  if (carried) state.xattrs.set(path, { ...state.xattrs.get(path), ...carried });
  switch (header.type) {
    case 'directory':
      if (!(await lstat(path).catch(() => undefined))?.isDirectory()) await replace(path, () => mkdir(path), state);
      await setMetadata(path, metadata, false);
      state.directoryTimes.set(path, metadata.mtime);
      return;
    case 'file':
    case 'contiguous-file': {
      // 'wx' never follows a symlink an earlier entry left at this name.
      const file = await replace(path, () => open(path, 'wx', 0o600), state);
      try {
        for await (const chunk of content) await file.write(chunk);
        await file.chown(metadata.uid, metadata.gid);
        await file.chmod(metadata.mode);
        await file.utimes(metadata.mtime, metadata.mtime);
      } finally {
        await file.close();
      }
      return;
    }
    case 'symlink':
      await replace(path, () => symlink(header.linkname ?? '', path), state);
      await lchown(path, metadata.uid, metadata.gid);
      await lutimes(path, metadata.mtime, metadata.mtime);
      return;
    case 'link':
      state.hardlinks.push([path, await hostPathOf(root, cleanEntryPath(header.linkname ?? ''))]);
      return;
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind = header.type === 'fifo' ? 'p' : header.type === 'block-device' ? 'b' : 'c';
      state.folders.clear();
      await rm(path, { recursive: true, force: true });
      state.nodes.push({ path, kind, major: header.devmajor ?? 0, minor: header.devminor ?? 0, metadata });
      return;
    }
    default:
      return; // other tar types (GNU sparse, volume labels) do not occur in image layers
  }
}

/** The host folder of root-relative `relative`, made if missing. */
async function folderOf(root: string, relative: string, state: Unpacking): Promise<string> {
  let folder = state.folders.get(relative);
  if (folder === undefined) {
    folder = await resolveHostFolder(root, relative);
    await makeParents(folder, state);
    state.folders.set(relative, folder);
  }
  return folder;
}

/**
 * Makes the missing directories down to `folder`, for a tar that leaves parents out. They get what
 * no clock or umask changes (0755, mtime 0): overlayfs shows them over the lower layers' own,
 * and a RUN that copies them up would put the time of unpacking into its layer.
 */
async function makeParents(folder: string, state: Unpacking): Promise<void> {
  const first = await mkdir(folder, { recursive: true });
  if (first === undefined) return;
  for (let dir = folder; ; dir = dirname(dir)) {
    await chmod(dir, 0o755);
    state.directoryTimes.set(dir, 0);
    if (dir === first) return;
  }
}

/** Runs `create`; when the name is taken (a tar may name a path twice: the last entry wins), removes it and runs `create` again. */
async function replace<T>(path: string, create: () => Promise<T>, state: Unpacking): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    state.folders.clear();
    await rm(path, { recursive: true, force: true });
    return create();
  }
}

/** Owner first: chown clears the setuid and setgid bits that chmod sets. */
async function setMetadata(path: string, metadata: ReturnType<typeof entryMetadata>, times = true): Promise<void> {
  await lchown(path, metadata.uid, metadata.gid);
  await chmod(path, metadata.mode);
  if (times) await utimes(path, metadata.mtime, metadata.mtime);
}

/**
 * Whiteouts are hard links to one 0:0 character device made with a single mknod, as overlayfs
 * itself shares one whiteout inode; a new one is made when the filesystem's link limit is reached.
 * A name the layer also writes stays: in lower-dir form the layer's own entry already hides the one below.
 */
async function makeWhiteouts(paths: readonly string[], template: string): Promise<void> {
  if (paths.length === 0) return;
  const makeTemplate = async () => {
    await rm(template, { force: true });
    await runCommand('mknod', ['--', template, 'c', '0', '0']);
  };
  await makeTemplate();
  try {
    for (const path of paths) {
      try {
        await link(template, path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EMLINK') throw error;
        await makeTemplate();
        await link(template, path);
      }
    }
  } finally {
    await rm(template, { force: true });
  }
}

/** Devices with one xargs of mknod, fifos with one of mkfifo: their names come NUL-separated on stdin. */
async function makeNodes(nodes: readonly SpecialNode[]): Promise<void> {
  const fifos = nodes.filter((node) => node.kind === 'p');
  const devices = nodes.filter((node) => node.kind !== 'p');
  if (fifos.length > 0) {
    await runCommand('xargs', ['-0', 'mkfifo', '--'], { input: fifos.map((node) => `${node.path}\0`).join('') });
  }
  if (devices.length > 0) {
    const input = devices.map((node) => `${node.path}\0${node.kind}\0${node.major}\0${node.minor}\0`).join('');
    await runCommand('xargs', ['-0', '-n', '4', 'mknod', '--'], { input });
  }
}
