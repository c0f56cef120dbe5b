import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  AddSourceError,
  archiveCompression,
  compressionOf,
  downloadUrlSource,
  remoteFileName,
  resolveAddSources,
} from '../../builder/context/add-source.js';
import { SourceTree } from '../../builder/context/build-context.js';
import { planCopy, type CopyPlanOptions } from '../../builder/context/copy-plan.js';
import { freePort } from '../support/free-port.js';
import type { FileEntry, LayerEntry } from '../../shared/layer/layer-entry.js';
import { layerTarRecords } from '../../shared/layer/tar-writer.js';
import { describe as entryLines, removeDir, tarOf, tempDir, type TarItem } from './fixtures.js';

const T2003 = 1_046_649_600;
const EPOCH = 1_700_000_000;

const owner = { uid: 1000, gid: 1001, mtime: new Date(T2003 * 1000) };
const ARCHIVE: TarItem[] = [
  { header: { name: './', type: 'directory', mode: 0o700, ...owner } },
  { header: { name: 'top/', type: 'directory', mode: 0o755, ...owner } },
  { header: { name: 'top/in/', type: 'directory', mode: 0o700, ...owner } },
  { header: { name: 'top/in/one', type: 'file', mode: 0o600, ...owner }, content: 'one\n' },
  { header: { name: 'top/hl', type: 'link', linkname: 'top/in/one', mode: 0o600, ...owner } },
  { header: { name: 'top/in/sl', type: 'symlink', linkname: 'one', mode: 0o777, ...owner } },
  { header: { name: 'top/in/abs', type: 'symlink', linkname: '/etc/passwd', mode: 0o777, ...owner } },
  { header: { name: 'orphan/deep/file', type: 'file', mode: 0o644, ...owner }, content: 'deep' },
  // Layers written by Wharf hold no devices: ADD skips them (and so does not make dev/ for this one).
  { header: { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 } },
  { header: { name: 'gone/.wh.old', type: 'file', mode: 0o644 } },
  { header: { name: `long/${'n'.repeat(120)}`, type: 'file', mode: 0o644, ...owner }, content: 'long' },
];

const EXTRACTED = [
  't directory 0755 9:9',
  't/gone directory 0755 0:0',
  't/gone/old whiteout',
  `t/long directory 0755 0:0`,
  `t/long/${'n'.repeat(120)} file 0644 1000:1001`,
  't/orphan directory 0755 0:0',
  't/orphan/deep directory 0755 0:0',
  't/orphan/deep/file file 0644 1000:1001',
  't/top directory 0755 1000:1001',
  't/top/hl hardlink 0600 1000:1001 -> t/top/in/one',
  't/top/in directory 0700 1000:1001',
  't/top/in/abs symlink 0777 1000:1001 -> /etc/passwd',
  't/top/in/one file 0600 1000:1001',
  't/top/in/sl symlink 0777 1000:1001 -> one',
];

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function compressWith(command: string, data: Buffer): Buffer {
  return execFileSync(command, ['-c'], { input: data, maxBuffer: 64 * 1024 * 1024 });
}

describe('ADD with a local tar archive', () => {
  let context: string;
  let scratch: string;
  let plainTar: Buffer;
  before(async () => {
    context = await tempDir('add');
    scratch = await tempDir('add-scratch');
    plainTar = await tarOf(ARCHIVE);
    await writeFile(join(context, 'plain.tar'), plainTar);
    await writeFile(join(context, 'a.tar.gz'), gzipSync(plainTar));
    await writeFile(join(context, 'blob'), gzipSync(plainTar)); // no extension: detected by content
    await writeFile(join(context, 'fake.tar.gz'), gzipSync('not a tar archive\n'));
    await writeFile(join(context, 'notes.txt'), 'text\n');
    await writeFile(join(context, 'empty'), '');
    await writeFile(join(context, 'evil.tar'), await tarOf([{ header: { name: '../evil', type: 'file', mode: 0o644 }, content: 'x' }]));
    await writeFile(join(context, 'evil-link.tar'), await tarOf([{ header: { name: 'a', type: 'symlink', linkname: '../../etc', mode: 0o777 } }]));
    await writeFile(join(context, 'evil-hardlink.tar'), await tarOf([{ header: { name: 'a', type: 'link', linkname: 'x/../../y', mode: 0o644 } }]));
  });
  after(async () => {
    await removeDir(context);
    await removeDir(scratch);
  });

  async function add(sources: string[], destination: string, options: Partial<CopyPlanOptions> = {}): Promise<LayerEntry[]> {
    const resolved = await resolveAddSources(SourceTree.context(context), sources, { scratchDir: scratch });
    return planCopy({ sources: resolved, destination, workdir: '/', sourceDateEpoch: EPOCH, instruction: 'ADD', ...options });
  }

  test('a gzip archive is extracted: owners and modes as stored, --chown only on the directory ADD creates', async () => {
    const entries = await add(['a.tar.gz'], '/t/', { chown: { uid: 9, gid: 9 } });
    assert.deepEqual(entryLines(entries), EXTRACTED);
    const one = entries.find((e) => e.path === 't/top/in/one') as FileEntry;
    assert.equal(one.mtime, T2003);
    assert.equal(await readFile((one.source as { file: string }).file, 'utf8'), 'one\n');
    // The layer writer takes them: the whiteout, the hardlink written after its file.
    const records = layerTarRecords(entries).map((r) => `${r.name} ${r.type}${r.linkname ? ` ${r.linkname}` : ''}`);
    assert.ok(records.includes('t/gone/.wh.old file'), records.join('\n'));
    assert.ok(records.includes('t/top/in/one hardlink t/top/hl'), records.join('\n'));
  });

  test('archives are recognised by content, not name; the destination is a directory even without /', async () => {
    assert.deepEqual(entryLines(await add(['blob'], '/t', { chown: { uid: 9, gid: 9 } })), EXTRACTED);
    assert.deepEqual(entryLines(await add(['plain.tar'], '/t', { chown: { uid: 9, gid: 9 } })), EXTRACTED);
    assert.deepEqual(entryLines(await add(['fake.tar.gz'], '/f')), ['f file 0644 0:0']);
    assert.deepEqual(entryLines(await add(['notes.txt', 'empty'], '/n/')), ['n directory 0755 0:0', 'n/empty file 0644 0:0', 'n/notes.txt file 0644 0:0']);
  });

  test('archive entries merge into existing directories and replace what else is there', async () => {
    const existing = (path: string) =>
      path === 't' || path === 't/top' ? { type: 'directory' as const, mode: 0o711, uid: 5, gid: 5, mtime: 1 } : path === 't/orphan' ? { type: 'symlink' as const, mode: 0o777, uid: 0, gid: 0, mtime: 1, target: '/elsewhere' } : undefined;
    const lines = entryLines(await add(['a.tar.gz'], '/t/', { existing }));
    assert.ok(lines.includes('t directory 0711 5:5'), 'the destination keeps its metadata');
    assert.ok(lines.includes('t/top directory 0755 1000:1001'), 'an archive directory sets an existing one');
    // Untar follows symlinks in parent paths as a chroot would: orphan/ leads to /elsewhere.
    assert.ok(lines.includes('elsewhere/deep/file file 0644 1000:1001'), lines.join('\n'));
  });

  test('entries that climb out of the archive are refused', async () => {
    await assert.rejects(add(['evil.tar'], '/'), (error: AddSourceError) => {
      assert.ok(error instanceof AddSourceError);
      assert.equal(error.message, 'ADD failed: archive evil.tar has an entry that points outside it: ../evil');
      return true;
    });
    await assert.rejects(add(['evil-link.tar'], '/'), /evil-link\.tar has an entry that points outside it: a -> \.\.\/\.\.\/etc/);
    await assert.rejects(add(['evil-hardlink.tar'], '/'), /points outside it: a -> x\/\.\.\/\.\.\/y/);
  });

  for (const [compression, command, debianPackage] of [
    ['bzip2', 'bzip2', 'bzip2'],
    ['xz', 'xz', 'xz-utils'],
    ['zstd', 'zstd', 'zstd'],
  ] as const) {
    const missing = commandExists(command) ? false : `the ${command} command is not installed (apt-get install ${debianPackage})`;
    test(`a ${compression} archive is extracted`, { skip: missing }, async () => {
      const file = `a.tar.${compression}`;
      await writeFile(join(context, file), compressWith(command, plainTar));
      assert.equal(await archiveCompression(join(context, file)), compression);
      assert.deepEqual(entryLines(await add([file], '/t/', { chown: { uid: 9, gid: 9 } })), EXTRACTED);
    });
  }

  test('a missing decompression command is a clear error, not a silent copy', { skip: commandExists('xz') ? false : 'needs xz to make the archive' }, async () => {
    await writeFile(join(context, 'needs-xz'), compressWith('xz', plainTar));
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await assert.rejects(archiveCompression(join(context, 'needs-xz')), (error: AddSourceError) => {
        assert.equal(error.missingCommand, 'xz');
        assert.match(error.message, /the "xz" command is needed to read xz archive .*needs-xz; install the xz-utils package/);
        return true;
      });
    } finally {
      process.env.PATH = path;
    }
  });

  test('compression is told by magic bytes', () => {
    assert.equal(compressionOf(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
    assert.equal(compressionOf(Buffer.from('BZh91AY')), 'bzip2');
    assert.equal(compressionOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
    assert.equal(compressionOf(Buffer.from('ustar')), 'none');
    assert.equal(compressionOf(Buffer.alloc(0)), 'none');
  });
});

describe('ADD with a URL', () => {
  let server: Server;
  let base: string;
  let scratch: string;
  const payload = Buffer.from('remote payload\n');
  const payloadDigest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
  const lastModified = 'Sun, 04 Apr 2004 04:04:04 GMT';
  let tarGz: Buffer;

  before(async () => {
    scratch = await tempDir('url-scratch');
    tarGz = gzipSync(await tarOf(ARCHIVE));
    server = createServer((request, response) => {
      const url = new URL(request.url!, 'http://x');
      if (url.pathname === '/files/payload.bin' || url.pathname === '/files/with%20space.txt') {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'last-modified': lastModified });
        response.end(payload);
      } else if (url.pathname === '/files/archive.tar.gz') {
        response.writeHead(200, { 'last-modified': lastModified });
        response.end(tarGz);
      } else if (url.pathname === '/redirect') {
        response.writeHead(302, { location: '/files/payload.bin' });
        response.end();
      } else if (url.pathname === '/') {
        response.writeHead(200);
        response.end('index');
      } else {
        response.writeHead(404);
        response.end('no');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await removeDir(scratch);
  });

  async function add(sources: string[], destination: string, options: { checksum?: string } & Partial<CopyPlanOptions> = {}): Promise<LayerEntry[]> {
    const { checksum, ...plan } = options;
    const resolved = await resolveAddSources(SourceTree.context(scratch), sources, { scratchDir: scratch, checksum });
    return planCopy({ sources: resolved, destination, workdir: '/', sourceDateEpoch: EPOCH, instruction: 'ADD', ...plan });
  }

  test('a download with the right checksum is named by the URL, mode 0600, mtime from Last-Modified', async () => {
    const entries = await add([`${base}/files/payload.bin?version=3`], '/u/', { checksum: payloadDigest });
    assert.deepEqual(entryLines(entries), ['u directory 0755 0:0', 'u/payload.bin file 0600 0:0']);
    const file = entries[1] as FileEntry;
    assert.equal(file.mtime, Date.parse(lastModified) / 1000);
    assert.equal(file.size, payload.length);
    assert.deepEqual(await readFile((file.source as { file: string }).file), payload);
  });

  test('a wrong checksum fails the ADD and leaves no file behind', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const before = await readdir(scratch);
    await assert.rejects(add([`${base}/files/payload.bin`], '/u/', { checksum: wrong }), (error: AddSourceError) => {
      assert.equal(error.message, `ADD failed: checksum mismatch for ${base}/files/payload.bin: expected ${wrong}, got ${payloadDigest}`);
      return true;
    });
    assert.deepEqual(await readdir(scratch), before);
    await assert.rejects(add([`${base}/files/payload.bin`], '/u/', { checksum: 'md5:abc' }), /ADD failed: invalid --checksum "md5:abc"/);
  });

  test('a remote archive is not extracted; a destination without / names the file; --chmod and --chown apply', async () => {
    assert.deepEqual(entryLines(await add([`${base}/files/archive.tar.gz`], '/u2')), ['u2 file 0600 0:0']);
    assert.deepEqual(entryLines(await add([`${base}/files/payload.bin`], '/u3', { chmod: 0o755, chown: { uid: 1, gid: 2 } })), ['u3 file 0755 1:2']);
  });

  test('redirects are followed; a URL without a path name gives __unnamed__ with mtime 0', async () => {
    assert.deepEqual(entryLines(await add([`${base}/redirect`], '/r/')), ['r directory 0755 0:0', 'r/redirect file 0600 0:0']);
    const [source] = await resolveAddSources(SourceTree.context(scratch), [`${base}/`], { scratchDir: scratch });
    assert.equal(source!.name, '__unnamed__');
    assert.equal(source!.entries[0]!.mtime, 0);
  });

  test('HTTP errors and unreachable hosts fail with the URL in the message', async () => {
    await assert.rejects(downloadUrlSource(`${base}/nope`, { scratchDir: scratch }), new AddSourceError(`ADD failed: GET ${base}/nope: 404 Not Found`));
    const closed = `http://127.0.0.1:${await freePort()}/x`;
    await assert.rejects(downloadUrlSource(closed, { scratchDir: scratch }), (error: AddSourceError) => {
      assert.match(error.message, /^ADD failed: GET http:\/\/127\.0\.0\.1:\d+\/x: .*ECONNREFUSED/);
      return true;
    });
  });

  test('--checksum needs exactly one URL source', async () => {
    await assert.rejects(add([`${base}/files/payload.bin`, `${base}/`], '/x/', { checksum: payloadDigest }), /checksum can't be specified for multiple sources/);
    await assert.rejects(add(['local'], '/x/', { checksum: payloadDigest }), /checksum requires an HTTP\(S\) source/);
  });

  test('file names come from the URL path as BuildKit takes them', () => {
    assert.equal(remoteFileName('https://example.com/a/b/file.tar.gz?x=1#frag'), 'file.tar.gz');
    assert.equal(remoteFileName('https://example.com/a/dir/'), 'dir');
    assert.equal(remoteFileName('https://example.com/with%20space.txt'), 'with space.txt');
    assert.equal(remoteFileName('https://example.com'), '__unnamed__');
    assert.equal(remoteFileName('https://example.com/'), '__unnamed__');
    assert.equal(remoteFileName('https://example.com/..'), '__unnamed__');
  });
});
