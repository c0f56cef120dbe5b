/**
 * One entry of a layer tar, as the builder describes a change set: COPY/ADD produce these from the
 * build context, RUN from an overlay upper directory. Paths are relative to the image root,
 * '/'-separated, without a leading '/' or trailing '/' (`usr/bin/env`).
 */
export type LayerEntry =
  | FileEntry
  | DirectoryEntry
  | SymlinkEntry
  | HardlinkEntry
  | DeviceEntry
  | FifoEntry
  | WhiteoutEntry
  | OpaqueEntry;

interface EntryMetadata {
  readonly path: string;
  /** Permission bits and setuid/setgid/sticky (0o7777); the type comes from `type`. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch; the writer clamps it to SOURCE_DATE_EPOCH when asked. */
  readonly mtime: number;
  /** Extended attributes written as PAX `SCHILY.xattr.*` records (e.g. `security.capability`). */
  readonly xattrs?: Readonly<Record<string, Buffer>>;
}

export interface FileEntry extends EntryMetadata {
  readonly type: 'file';
  readonly size: number;
  /** Where the bytes are: a file on the host (read when the layer is written) or bytes in memory. */
  readonly source: { readonly file: string } | { readonly content: Buffer };
}

export interface DirectoryEntry extends EntryMetadata {
  readonly type: 'directory';
}

export interface SymlinkEntry extends EntryMetadata {
  readonly type: 'symlink';
  readonly target: string;
}

/** A second name for a file written earlier in the same layer (`target` is that file's path). */
export interface HardlinkEntry extends EntryMetadata {
  readonly type: 'hardlink';
  readonly target: string;
}

/** A character or block device node, as `mknod` makes them (RUN output under /dev, for instance). */
export interface DeviceEntry extends EntryMetadata {
  readonly type: 'char-device' | 'block-device';
  readonly major: number;
  readonly minor: number;
}

/** A named pipe, as `mkfifo` makes them. */
export interface FifoEntry extends EntryMetadata {
  readonly type: 'fifo';
}

/** Deletes `path` from the layers below (written as `.wh.<name>`). */
export interface WhiteoutEntry {
  readonly type: 'whiteout';
  readonly path: string;
}

/** Hides everything the layers below have inside directory `path` (written as `<path>/.wh..wh..opq`). */
export interface OpaqueEntry {
  readonly type: 'opaque';
  readonly path: string;
}
