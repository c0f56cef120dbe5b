import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as zlib from 'node:zlib';
import { extract } from 'tar-stream';
import { Digester, parseDigest, splitDigest, type Digest } from '../../shared/digest.js';
import { entryMetadata } from '../layer-reader.js';
import type { ResolvedSource, SourceEntry, SourceTree } from './build-context.js';

/** How a local ADD source is compressed, told by its first bytes. */
export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/**
 * The commands ADD runs for compressions Node cannot read itself, and the Debian package with each
 * (zstd only before Node 22.15, which reads it natively).
 */
export const DECOMPRESSION_COMMANDS = {
  bzip2: { command: 'bzip2', debianPackage: 'bzip2' },
  xz: { command: 'xz', debianPackage: 'xz-utils' },
  zstd: { command: 'zstd', debianPackage: 'zstd' },
} as const;

/** An ADD source that cannot be fetched or unpacked: HTTP failure, checksum mismatch, unsafe archive, missing tool. */
export class AddSourceError extends Error {
  override readonly name = 'AddSourceError';

  constructor(
    message: string,
    /** Set when a decompression command is not installed (then ADD cannot tell whether the file is an archive). */
    readonly missingCommand?: string,
  ) {
    super(message);
  }
}

/** Options of resolveAddSources(). */
export interface AddSourceOptions {
  /** Where downloads and extracted archive files are kept until the layer is written; the caller removes it. */
  readonly scratchDir: string;
  /** `--checksum=sha256:…`: the digest a single URL source must have. */
  readonly checksum?: string;
  readonly signal?: AbortSignal;
}

/** Options of downloadUrlSource(). */
export interface DownloadOptions {
  readonly scratchDir: string;
  readonly checksum?: string;
  /** Index of the source among the instruction's sources. */
  readonly group?: number;
  readonly signal?: AbortSignal;
}

/** Is this ADD source a URL to download (rather than a path in the context)? */
export function isUrlSource(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * ADD's sources, resolved: URLs downloaded (not extracted), local paths resolved in `tree` like
 * COPY's, and local files that are tar archives (plain, gzip, bzip2, xz or zstd, told by content,
 * not by name) turned into archives to extract.
 */
export async function resolveAddSources(tree: SourceTree, sources: readonly string[], options: AddSourceOptions): Promise<ResolvedSource[]> {
  if (options.checksum !== undefined) {
    if (sources.length !== 1) throw new AddSourceError("ADD failed: checksum can't be specified for multiple sources");
    if (!isUrlSource(sources[0]!)) throw new AddSourceError('ADD failed: checksum requires an HTTP(S) source');
  }
  const out: ResolvedSource[] = [];
  for (const [group, source] of sources.entries()) {
    if (isUrlSource(source)) {
      out.push(await downloadUrlSource(source, { scratchDir: options.scratchDir, checksum: options.checksum, group, signal: options.signal }));
      continue;
    }
    const resolved = await tree.resolveSources([source], { instruction: 'ADD' });
    out.push(...(await unpackLocalArchives(resolved.map((item) => ({ ...item, group })), options.scratchDir)));
  }
  return out;
}

/** Local file sources that are tar archives become `archive` sources holding the archive's entries (files extracted under scratchDir). */
export async function unpackLocalArchives(sources: readonly ResolvedSource[], scratchDir: string): Promise<ResolvedSource[]> {
  const out: ResolvedSource[] = [];
  for (const source of sources) {
    const top = source.entries[0];
    const file = top?.type === 'file' && top.source && 'file' in top.source ? top.source.file : undefined;
    const compression = source.kind === 'file' && file ? await archiveCompression(file) : undefined;
    if (!file || compression === undefined) {
      out.push(source);
      continue;
    }
    out.push({ ...source, kind: 'archive', entries: await extractArchive(file, compression, scratchDir, source.path) });
  }
  return out;
}

/** The compression its first bytes announce. */
export function compressionOf(head: Uint8Array): Compression {
  const starts = (...bytes: number[]): boolean => bytes.every((byte, i) => head[i] === byte);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  return 'none';
}

/**
 * How `file` is compressed if it is a tar archive (its decompressed start is a valid tar header,
 * as BuildKit checks it), else undefined. Throws AddSourceError when the decompressor is missing.
 */
export async function archiveCompression(file: string): Promise<Compression | undefined> {
  const head = await readPrefix(createReadStream(file, { end: 5 }), 6);
  const compression = compressionOf(head);
  try {
    const block = await readPrefix(decompressed(file, compression), 512);
    return isTarHeader(block) ? compression : undefined;
  } catch (error) {
    if (error instanceof AddSourceError && error.missingCommand) throw error;
    return undefined;
  }
}

/** Does this 512-byte block hold a tar header whose checksum is right (Go's archive/tar accepts the signed or unsigned sum)? */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const stored = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += (byte << 24) >> 24;
  }
  return stored === unsigned || stored === signed;
}

/**
 * The entries of a tar archive as ADD extracts them (Docker's Untar rules): names relative to the
 * archive root, owners, modes and mtimes as stored, `.wh.` names as whiteouts, devices and fifos
 * skipped. File contents are written under scratchDir; entries escaping the root are refused.
 */
export async function extractArchive(file: string, compression: Compression, scratchDir: string, shown = file): Promise<SourceEntry[]> {
  await mkdir(scratchDir, { recursive: true });
  const dir = await mkdtemp(join(scratchDir, 'add-archive-'));
  const entries: SourceEntry[] = [];
  const tar = extract();
  const feeding = pipeline(decompressed(file, compression), tar);
  let count = 0;
  try {
    for await (const item of tar) {
      const header = item.header;
      const path = archivePath(header.name, shown, header.name);
      const { mtime, ...owner } = entryMetadata(header);
      const metadata = { ...owner, mtime: Math.floor(mtime) };
      const base = path.slice(path.lastIndexOf('/') + 1);
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      if (path === '' || !['file', 'contiguous-file', 'directory', 'symlink', 'link'].includes(header.type)) {
        item.resume();
        continue;
      }
      if (base === '.wh..wh..opq') {
        entries.push({ path: parent, type: 'opaque', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 });
        item.resume();
        continue;
      }
      if (base.startsWith('.wh.')) {
        entries.push({ path: parent === '' ? base.slice(4) : `${parent}/${base.slice(4)}`, type: 'whiteout', mode: 0, uid: 0, gid: 0, mtime: 0, size: 0 });
        item.resume();
        continue;
      }
      switch (header.type) {
        case 'file':
        case 'contiguous-file': {
          const hostFile = join(dir, String(count++));
          await pipeline(item, createWriteStream(hostFile, { mode: 0o600 }));
          entries.push({ path, type: 'file', ...metadata, size: header.size ?? 0, source: { file: hostFile } });
          break;
        }
        case 'directory':
          item.resume();
          entries.push({ path, type: 'directory', ...metadata, size: 0 });
          break;
        case 'symlink': {
          item.resume();
          const target = header.linkname ?? '';
          // Untar refuses a relative link that climbs out of the extraction directory.
          if (!target.startsWith('/')) archivePath(parent === '' ? target : `${parent}/${target}`, shown, `${header.name} -> ${target}`);
          entries.push({ path, type: 'symlink', ...metadata, size: 0, target });
          break;
        }
        case 'link':
          item.resume();
          entries.push({ path, type: 'hardlink', ...metadata, size: 0, target: archivePath(header.linkname ?? '', shown, `${header.name} -> ${header.linkname}`) });
          break;
      }
    }
    await feeding;
  } catch (error) {
    tar.destroy(error as Error);
    await feeding.catch(() => {});
    throw error instanceof AddSourceError ? error : new AddSourceError(`ADD failed: cannot extract ${shown}: ${(error as Error).message}`);
  }
  return entries;
}

/**
 * Downloads a URL source into scratchDir as ADD does: never extracted, named by the URL path's last
 * segment, mode 0600, owned by 0:0, mtime from Last-Modified (0 without one), the bytes checked
 * against `checksum` when given.
 */
export async function downloadUrlSource(url: string, options: DownloadOptions): Promise<ResolvedSource> {
  let expected: Digest | undefined;
  if (options.checksum !== undefined) {
    try {
      expected = parseDigest(options.checksum);
    } catch (error) {
      throw new AddSourceError(`ADD failed: invalid --checksum "${options.checksum}": ${(error as Error).message}`);
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: options.signal });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new AddSourceError(`ADD failed: GET ${url}: ${cause ?? (error as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new AddSourceError(`ADD failed: GET ${url}: ${response.status} ${response.statusText}`.trimEnd());
  }
  await mkdir(options.scratchDir, { recursive: true });
  const dir = await mkdtemp(join(options.scratchDir, 'add-url-'));
  const file = join(dir, 'download');
  const digester = Digester.create(expected ? splitDigest(expected)[0] : 'sha256');
  let size = 0;
  try {
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          digester.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
      createWriteStream(file, { mode: 0o600 }),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new AddSourceError(`ADD failed: GET ${url}: ${(error as Error).message}`);
  }
  const actual = digester.digest();
  if (expected && actual !== expected) {
    await rm(dir, { recursive: true, force: true });
    throw new AddSourceError(`ADD failed: checksum mismatch for ${url}: expected ${expected}, got ${actual}`);
  }
  const lastModified = Date.parse(response.headers.get('last-modified') ?? '');
  return {
    pattern: url,
    path: url,
    name: remoteFileName(url),
    kind: 'file',
    group: options.group ?? 0,
    entries: [
      {
        path: '',
        type: 'file',
        mode: 0o600,
        uid: 0,
        gid: 0,
        mtime: Number.isNaN(lastModified) ? 0 : Math.floor(lastModified / 1000),
        size,
        source: { file },
      },
    ],
  };
}

/** The name a downloaded file gets: the URL path's last segment (query ignored), `__unnamed__` when there is none, as BuildKit names it. */
export function remoteFileName(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '__unnamed__';
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    // Keep the encoded form.
  }
  const trimmed = path.replace(/\/+$/, '');
  const base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return base === '' || base === '.' || base === '..' ? '__unnamed__' : base;
}

/** An archive entry name as a clean path relative to the archive root; climbing above it is refused. */
function archivePath(name: string, archive: string, shown: string): string {
  const parts: string[] = [];
  const absolute = name.startsWith('/');
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0 && !absolute) throw new AddSourceError(`ADD failed: archive ${archive} has an entry that points outside it: ${shown}`);
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

/** The decompressed bytes of `file`. */
function decompressed(file: string, compression: Compression): Readable {
  switch (compression) {
    case 'none':
      return createReadStream(file);
    case 'gzip':
      return piped(createReadStream(file), zlib.createGunzip());
    case 'zstd': {
      const native = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
      if (native) return piped(createReadStream(file), native());
      return commandOutput('zstd', file);
    }
    case 'bzip2':
    case 'xz':
      return commandOutput(compression, file);
  }
}

function piped(input: Readable, transform: Transform): Readable {
  input.on('error', (error) => transform.destroy(error));
  transform.on('close', () => input.destroy());
  return input.pipe(transform);
}

/** stdout of `<command> -dc -- file`, ending only once the command exited 0. */
function commandOutput(compression: keyof typeof DECOMPRESSION_COMMANDS, file: string): Readable {
  const { command, debianPackage } = DECOMPRESSION_COMMANDS[compression];
  const out = new PassThrough();
  const child = spawn(command, ['-dc', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  child.stdout.pipe(out, { end: false });
  child.on('error', (error: NodeJS.ErrnoException) => {
    out.destroy(
      error.code === 'ENOENT'
        ? new AddSourceError(`ADD failed: the "${command}" command is needed to read ${compression} archive ${file}; install the ${debianPackage} package`, command)
        : error,
    );
  });
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`${command} -d failed (${code ?? signal}): ${stderr.trim()}`));
  });
  out.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return out;
}

async function readPrefix(stream: Readable, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    total += (chunk as Buffer).length;
    if (total >= length) break;
  }
  stream.destroy();
  return Buffer.concat(chunks).subarray(0, length);
}
