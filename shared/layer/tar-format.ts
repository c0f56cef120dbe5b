import { Readable } from 'node:stream';

/**
 * The POSIX tar (ustar + PAX) encoding, byte for byte as Go's archive/tar writes it (the writer
 * Docker, containerd and BuildKit use): octal fields zero-padded and NUL-terminated, PAX records
 * sorted by key, the `x` header named `<dir>/PaxHeaders.0/<name>` with zero metadata, no padding of
 * the archive beyond the two zero blocks. Owner names are always empty.
 */

const BLOCK = 512;
const ZERO_BLOCKS = Buffer.alloc(2 * BLOCK);
const MAX_OCTAL_7 = 0o7777777; // mode, uid, gid fields
const MAX_OCTAL_11 = 0o77777777777; // size, mtime fields
const BATCH_BYTES = 64 * 1024;

export type TarRecordType = 'file' | 'hardlink' | 'symlink' | 'directory' | 'char-device' | 'block-device' | 'fifo';

/** One tar entry as written: the name is final (a directory's ends with '/'). */
export interface TarRecord {
  readonly name: string;
  readonly type: TarRecordType;
  /** Permission and setuid/setgid/sticky bits only. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Whole seconds since the epoch. */
  readonly mtime: number;
  /** Body length; 0 for anything but a file. */
  readonly size: number;
  /** Symlink or hardlink target. */
  readonly linkname?: string;
  /** A device's numbers (char-device and block-device only). */
  readonly devmajor?: number;
  readonly devminor?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records, raw bytes. */
  readonly xattrs?: Readonly<Record<string, Buffer>>;
  /** A file's bytes: in memory, or read when the writer reaches the entry (exactly `size` bytes). */
  readonly body?: Buffer | (() => Readable | Buffer | Promise<Readable | Buffer>);
}

/** Raised when an entry cannot be written as a valid tar (bad name, body of the wrong length, …). */
export class TarFormatError extends Error {}

const TYPE_FLAGS: Record<TarRecordType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  'char-device': 0x33,
  'block-device': 0x34,
  directory: 0x35,
  fifo: 0x36,
};

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

function toAscii(s: string): string {
  return s.replace(/[^\x00-\x7f]/g, '');
}

/** Go's formatOctal: zero-padded to the field length minus one, then NUL. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  block.write(digits, offset, length - 1, 'ascii');
  block[offset + length - 1] = 0;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  Buffer.from(value, 'utf8').copy(block, offset, 0, length);
}

/** One PAX record, `"<length> <key>=<value>\n"` where length counts the whole record. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = 3 + Buffer.byteLength(key) + value.length; // ' ', '=', '\n'
  let length = body + String(body).length;
  if (String(length).length + body !== length) length = body + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`, 'utf8'), value, Buffer.from('\n')]);
}

function checksum(block: Buffer): void {
  block.fill(0x20, 148, 156); // the checksum field counts as spaces
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
}

function ustarBlock(
  name: string,
  typeFlag: number,
  fields: { mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor?: number; devminor?: number },
): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block[156] = typeFlag;
  writeString(block, 157, 100, fields.linkname);
  block.write('ustar\x0000', 257, 8, 'ascii');
  // uname and gname stay empty: no host-dependent metadata.
  writeOctal(block, 329, 8, fields.devmajor ?? 0);
  writeOctal(block, 337, 8, fields.devminor ?? 0);
  checksum(block);
  return block;
}

/** Throws TarFormatError when the record cannot be encoded. */
export function validateRecord(record: TarRecord): void {
  const where = `tar entry "${record.name}"`;
  if (record.name.length === 0 || record.name.includes('\0')) throw new TarFormatError(`${where}: invalid name`);
  if (record.linkname?.includes('\0')) throw new TarFormatError(`${where}: link target contains NUL`);
  for (const [field, value] of [['mode', record.mode], ['uid', record.uid], ['gid', record.gid], ['mtime', record.mtime], ['size', record.size]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new TarFormatError(`${where}: ${field} must be a non-negative integer, got ${value}`);
  }
  if (record.mode > 0o7777) throw new TarFormatError(`${where}: mode ${record.mode.toString(8)} has bits beyond 07777`);
  if (record.type !== 'file' && record.size !== 0) throw new TarFormatError(`${where}: a ${record.type} has no body`);
  const device = record.type === 'char-device' || record.type === 'block-device';
  for (const [field, value] of [['devmajor', record.devmajor], ['devminor', record.devminor]] as const) {
    if (value === undefined) continue;
    if (!device) throw new TarFormatError(`${where}: a ${record.type} has no ${field}`);
    // ustar has 7 octal digits for them and PAX no record (as Go's archive/tar): Linux's fit.
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_OCTAL_7) throw new TarFormatError(`${where}: ${field} must be 0–${MAX_OCTAL_7}, got ${value}`);
  }
  for (const key of Object.keys(record.xattrs ?? {})) {
    if (key.length === 0 || key.includes('=') || key.includes('\0')) throw new TarFormatError(`${where}: invalid xattr name "${key}"`);
  }
}

/** The header block(s) of one entry: a PAX `x` header first when a field does not fit ustar. */
export function encodeTarHeader(record: TarRecord): Buffer {
  validateRecord(record);
  const pax = new Map<string, Buffer>();
  const linkname = record.linkname ?? '';
  if (Buffer.byteLength(record.name) > 100 || !isAscii(record.name)) pax.set('path', Buffer.from(record.name));
  if (Buffer.byteLength(linkname) > 100 || !isAscii(linkname)) pax.set('linkpath', Buffer.from(linkname));
  if (record.uid > MAX_OCTAL_7) pax.set('uid', Buffer.from(String(record.uid)));
  if (record.gid > MAX_OCTAL_7) pax.set('gid', Buffer.from(String(record.gid)));
  if (record.size > MAX_OCTAL_11) pax.set('size', Buffer.from(String(record.size)));
  if (record.mtime > MAX_OCTAL_11) pax.set('mtime', Buffer.from(String(record.mtime)));
  for (const [key, value] of Object.entries(record.xattrs ?? {})) pax.set(`SCHILY.xattr.${key}`, value);

  const main = ustarBlock(toAscii(record.name), TYPE_FLAGS[record.type], {
    mode: record.mode,
    uid: record.uid > MAX_OCTAL_7 ? 0 : record.uid,
    gid: record.gid > MAX_OCTAL_7 ? 0 : record.gid,
    size: record.size > MAX_OCTAL_11 ? 0 : record.size,
    mtime: record.mtime > MAX_OCTAL_11 ? 0 : record.mtime,
    linkname: toAscii(linkname),
    ...(record.devmajor !== undefined ? { devmajor: record.devmajor } : {}),
    ...(record.devminor !== undefined ? { devminor: record.devminor } : {}),
  });
  if (pax.size === 0) return main;

  const keys = [...pax.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const body = Buffer.concat(keys.map((key) => paxRecord(key, pax.get(key)!)));
  const trimmed = record.name.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const paxName = `${trimmed.slice(0, slash + 1)}PaxHeaders.0/${trimmed.slice(slash + 1)}`;
  const header = ustarBlock(toAscii(paxName).slice(0, 100).replace(/\/+$/, ''), 0x78, {
    mode: 0,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    linkname: '',
  });
  return Buffer.concat([header, body, padding(body.length), main]);
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

async function* tarChunks(records: readonly TarRecord[]): AsyncGenerator<Buffer> {
  // Headers and small bodies are gathered into ~64 KiB chunks; big bodies pass through as read.
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (chunk: Buffer): void => {
    batch.push(chunk);
    batched += chunk.length;
  };
  const take = (): Buffer => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  const wrongLength = (record: TarRecord, read: number): TarFormatError =>
    new TarFormatError(`tar entry "${record.name}": body is ${read} bytes, ${record.size} announced (did the file change?)`);
  for (const record of records) {
    add(encodeTarHeader(record));
    if (record.type === 'file' && record.size > 0) {
      const body = record.body;
      if (!body) throw new TarFormatError(`tar entry "${record.name}": ${record.size} bytes announced but no body given`);
      const opened = Buffer.isBuffer(body) ? body : await body();
      if (Buffer.isBuffer(opened)) {
        if (opened.length !== record.size) throw wrongLength(record, opened.length);
        add(opened);
      } else {
        let read = 0;
        try {
          for await (const chunk of opened as AsyncIterable<Buffer>) {
            read += chunk.length;
            if (read > record.size) throw wrongLength(record, read);
            if (chunk.length >= BATCH_BYTES) {
              if (batched > 0) yield take();
              yield chunk;
            } else {
              add(chunk);
              if (batched >= BATCH_BYTES) yield take();
            }
          }
        } finally {
          opened.destroy();
        }
        if (read !== record.size) throw wrongLength(record, read);
      }
      const pad = padding(record.size);
      if (pad.length > 0) add(pad);
    }
    if (batched >= BATCH_BYTES) yield take();
  }
  add(ZERO_BLOCKS);
  yield take();
}

/** A tar of the records, in the order given: headers, bodies streamed as read, two zero blocks. */
export function tarStream(records: Iterable<TarRecord>): Readable {
  return Readable.from(tarChunks([...records]), { objectMode: false, highWaterMark: 1024 * 1024 });
}
