import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline as pipe, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../shared/digest.js';
import { digestVerifier } from '../../shared/digest-verifier.js';
import type { Image } from '../../shared/image.js';
import { tarStream, type TarRecord } from '../../shared/layer/tar-format.js';

/** Raised when a blob read for an archive does not have the digest its descriptor announces. */
export class ArchiveBlobError extends Error {}

// Archive members have fixed metadata so the same image and tags give the same archive bytes.
const FILE = { mode: 0o644, uid: 0, gid: 0, mtime: 0 } as const;
const DIRECTORY = { mode: 0o755, uid: 0, gid: 0, mtime: 0 } as const;

/** A regular file of an archive, from memory. */
export function fileRecord(name: string, content: Buffer): TarRecord {
  return { name, type: 'file', ...FILE, size: content.length, body: content };
}

/** A directory of an archive (`name` ends with '/'). */
export function directoryRecord(name: string): TarRecord {
  return { name, type: 'directory', ...DIRECTORY, size: 0 };
}

/** A blob of an archive, streamed from `open` and checked against its digest as it is written. */
export function blobRecord(name: string, digest: Digest, size: number, open: () => Promise<Readable>, what: string): TarRecord {
  return {
    name,
    type: 'file',
    ...FILE,
    size,
    // pipe() with a callback carries a source error into the verifier, which the tar writer is reading.
    body: async () => pipe(await open(), digestVerifier(digest, (actual) => new ArchiveBlobError(`${what} has digest ${actual}, expected ${digest}`)), () => {}),
  };
}

/** Where the blobs of an image go in an archive: `blobs/<algorithm>/<hex>`. */
export function blobPath(digest: Digest): string {
  return `blobs/${digest.replace(':', '/')}`;
}

/** Records of every blob of an image (config, manifest, layers once each) with their directories. */
export function imageBlobRecords(image: Image): TarRecord[] {
  const records = new Map<string, TarRecord>();
  const add = (record: TarRecord): void => {
    if (!records.has(record.name)) records.set(record.name, record);
  };
  const blob = (digest: Digest, record: TarRecord): void => {
    add(directoryRecord('blobs/'));
    add(directoryRecord(`blobs/${digest.split(':')[0]}/`));
    add(record);
  };
  blob(image.digest, fileRecord(blobPath(image.digest), image.rawManifest));
  blob(image.manifest.config.digest, fileRecord(blobPath(image.manifest.config.digest), image.rawConfig));
  image.layers.forEach((layer, i) => {
    const { digest, size } = layer.descriptor;
    blob(digest, blobRecord(blobPath(digest), digest, size, () => layer.open(), `layer ${i + 1} (${digest})`));
  });
  return [...records.values()];
}

/** Records in archive order: by name, a directory before its contents. */
export function sortRecords(records: readonly TarRecord[]): TarRecord[] {
  const key = (name: string): Buffer => Buffer.from(name.replace(/\/$/, '').replaceAll('/', '\0'));
  return [...records].sort((a, b) => Buffer.compare(key(a.name), key(b.name)));
}

/**
 * Writes the records as a tar to `destination`: a Writable (ended when done), or a file path,
 * written beside it under a temporary name and renamed into place, so no half-written archive is left.
 */
export async function writeArchive(records: readonly TarRecord[], destination: string | Writable): Promise<void> {
  if (typeof destination !== 'string') {
    await pipeline(tarStream(records), destination);
    return;
  }
  const temporary = join(dirname(destination), `.${basename(destination)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await pipeline(tarStream(records), createWriteStream(temporary));
    await rename(temporary, destination);
  } finally {
    await rm(temporary, { force: true });
  }
}
