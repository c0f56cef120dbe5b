// planCopy against the real thing: the same COPY/ADD lines built by the docker engine's BuildKit
// (DOCKER_BUILDKIT=1, offline, FROM the local test image), the result listed with stat inside a
// container, compared path by path: type, mode, owner, symlink target, file mtime, hardlinks.
// Directory mtimes are not compared: docker 20.10's BuildKit does not carry them over from the
// context, and created directories get the build's time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { resolveAddSources } from '../../builder/context/add-source.js';
import { SourceTree } from '../../builder/context/build-context.js';
import { planCopy, resolveChown, rootfsLookup, type CopyPlanOptions } from '../../builder/context/copy-plan.js';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { docker, dockerUnavailableReason, run, testImage } from '../e2e/harness.js';
import { makeTree, removeDir, tarOf, tempDir } from './fixtures.js';

const unavailable = await dockerUnavailableReason();
if (unavailable) console.log(`# skipping BuildKit comparisons: ${unavailable}`);

const T2001 = 981_173_106;
const T2003 = 1_046_649_600;
const nonce = randomUUID().slice(0, 8);
const BASE = `wharf-test/context-base:${nonce}`;
const RESULT = `wharf-test/context-result:${nonce}`;

// The base image: directories to copy into, a symlink, users and groups, and a tree owned by others for COPY --from.
const BASE_SETUP = [
  'mkdir -p /etc /real /exist /w /m/sub /srcdir/d',
  'ln -s real /link',
  'chmod 1777 /exist',
  "printf 'root:x:0:0::/root:/bin/sh\\napp:x:1000:2000::/home/app:/bin/sh\\n' > /etc/passwd",
  "printf 'root:x:0:\\nstaff:x:50:app\\n' > /etc/group",
  'chown 5:5 /m /m/sub && chmod 0705 /m && chmod 0711 /m/sub',
  'echo hi > /srcdir/d/f',
  'chown -R 123:456 /srcdir',
  'chmod 4711 /srcdir/d/f',
  'ln -s d/f /srcdir/l',
  'chown -h 7:8 /srcdir/l',
  'touch -d 2002-01-01 /srcdir/d/f',
].join(' && ');

interface Case {
  /** The Dockerfile line. */
  line: string;
  /** Root-relative paths whose subtrees the comparison covers. */
  roots: string[];
  /** How Wharf plans the same line. */
  plan: (ctx: Planning) => Promise<LayerEntry[]>;
}

interface Planning {
  copy(patterns: string[], destination: string, options?: Partial<CopyPlanOptions> & { from?: boolean }): Promise<LayerEntry[]>;
  add(patterns: string[], destination: string, options?: Partial<CopyPlanOptions>): Promise<LayerEntry[]>;
  chown(spec: string): Promise<{ uid: number; gid: number }>;
}

const CASES: Case[] = [
  { line: 'COPY a.txt /c1/', roots: ['c1'], plan: (p) => p.copy(['a.txt'], '/c1/') },
  { line: 'COPY a.txt /c2', roots: ['c2'], plan: (p) => p.copy(['a.txt'], '/c2') },
  { line: 'COPY dir /c3', roots: ['c3'], plan: (p) => p.copy(['dir'], '/c3') },
  { line: 'COPY a.txt b.txt ./c4/', roots: ['w'], plan: (p) => p.copy(['a.txt', 'b.txt'], './c4/', { workdir: '/w' }) },
  { line: 'COPY --chown=app:staff dir /c5/p/', roots: ['c5'], plan: async (p) => p.copy(['dir'], '/c5/p/', { chown: await p.chown('app:staff') }) },
  { line: 'COPY --chown=app a.txt /c5b', roots: ['c5b'], plan: async (p) => p.copy(['a.txt'], '/c5b', { chown: await p.chown('app') }) },
  { line: 'COPY --chmod=0750 plain /c6/', roots: ['c6'], plan: (p) => p.copy(['plain'], '/c6/', { chmod: 0o750 }) },
  { line: 'COPY a.txt /exist/c7/', roots: ['exist'], plan: (p) => p.copy(['a.txt'], '/exist/c7/') },
  { line: 'COPY a.txt /link/c8', roots: ['real'], plan: (p) => p.copy(['a.txt'], '/link/c8') },
  { line: 'COPY d*r /c9/', roots: ['c9'], plan: (p) => p.copy(['d*r'], '/c9/') },
  { line: 'ADD --chown=9:9 a.tar.gz /c10', roots: ['c10'], plan: (p) => p.add(['a.tar.gz'], '/c10', { chown: { uid: 9, gid: 9 } }) },
  { line: `COPY --from=${BASE} /srcdir /c11/`, roots: ['c11'], plan: (p) => p.copy(['/srcdir'], '/c11/', { from: true }) },
  { line: `COPY --from=${BASE} /srcdir/l /c12`, roots: ['c12'], plan: (p) => p.copy(['/srcdir/l'], '/c12', { from: true }) },
  { line: 'COPY link-to-dir /c13/', roots: ['c13'], plan: (p) => p.copy(['link-to-dir'], '/c13/') },
  { line: 'COPY mdir /m/', roots: ['m'], plan: (p) => p.copy(['mdir'], '/m/') },
  { line: 'COPY *.txt /c14/', roots: ['c14'], plan: (p) => p.copy(['*.txt'], '/c14/') },
];

/** One listed path of the built image. */
interface Listed {
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  links: number;
  inode: string;
  target?: string;
}

describe('COPY/ADD planned like BuildKit lays them out', { skip: unavailable ?? false, timeout: 600_000 }, () => {
  let work: string;
  let context: string;
  let rootfs: string;
  const listing = new Map<string, Listed>();
  const containers: string[] = [];

  before(async () => {
    await testImage();
    work = await tempDir('buildkit');
    context = join(work, 'context');
    rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    await makeTree(context, {
      'a.txt': { file: 'A\n', mtime: T2001 },
      'b.txt': 'BB\n',
      'c.md': 'C\n',
      'dir/x': { file: 'x\n', mode: 0o640, mtime: T2001 },
      'dir/sub/y': { file: 'y\n', mode: 0o4755 },
      'dir/sub': { dir: true, mode: 0o700 },
      'dir/lx': { symlink: 'x' },
      'dir/escape': { symlink: '../../../../etc' },
      'dir/abs': { symlink: '/etc/passwd' },
      'dir/hx': { hardlink: 'dir/x' },
      dir: { dir: true, mode: 0o750 },
      'plain/p1': { file: 'p1\n', mode: 0o600 },
      'plain/sub/p2': 'p2\n',
      'plain/ls': { symlink: 'p1' },
      'link-to-dir': { symlink: 'dir' },
      'mdir/sub/q': 'q\n',
      'mdir/sub': { dir: true, mode: 0o700 },
    });
    await writeFile(join(context, 'a.tar.gz'), gzipSync(await archive()));

    await writeFile(join(work, 'base.Dockerfile'), `FROM wharf-test/busybox:latest\nRUN ${BASE_SETUP}\n`);
    await buildkit(join(work, 'base.Dockerfile'), BASE);
    const container = `wharf-context-${nonce}`;
    await docker(['create', '--name', container, BASE, '/bin/true']);
    containers.push(container);
    await docker(['export', '-o', join(work, 'rootfs.tar'), container]);
    await run('tar', ['-x', '--numeric-owner', '-f', join(work, 'rootfs.tar'), '-C', rootfs]);

    const dockerfile = ['FROM ' + BASE, 'WORKDIR /w', ...CASES.map((c) => c.line)].join('\n') + '\n';
    await writeFile(join(work, 'result.Dockerfile'), dockerfile);
    await buildkit(join(work, 'result.Dockerfile'), RESULT);
    const roots = [...new Set(CASES.flatMap((c) => c.roots))].map((r) => `/${r}`);
    const format = '%n|%F|%a|%u|%g|%Y|%h|%i|%N';
    const { stdout } = await docker(['run', '--rm', '--network', 'none', RESULT, '/bin/sh', '-c', `find ${roots.join(' ')} -exec stat -c '${format}' {} +`]);
    for (const line of stdout.trim().split('\n')) {
      const [name, type, mode, uid, gid, mtime, links, inode, quoted] = line.split('|');
      const target = type === 'symbolic link' ? /-> '(.*)'$/.exec(quoted!)?.[1] : undefined;
      listing.set(name!.replace(/^\//, ''), {
        type: type === 'directory' ? 'directory' : type === 'symbolic link' ? 'symlink' : 'file',
        mode: parseInt(mode!, 8),
        uid: Number(uid),
        gid: Number(gid),
        mtime: Number(mtime),
        links: Number(links),
        inode: inode!,
        ...(target !== undefined ? { target } : {}),
      });
    }
  });

  after(async () => {
    for (const container of containers) await docker(['rm', '-f', container]).catch(() => {});
    await docker(['rmi', '-f', RESULT, BASE]).catch(() => {});
    if (work) await removeDir(work);
  });

  // No cache: BuildKit's cache keys ignore mtimes, so a hit from an earlier run would bring that run's file times.
  async function buildkit(dockerfile: string, tag: string): Promise<void> {
    await docker(['build', '--no-cache', '--network', 'none', '-q', '-f', dockerfile, '-t', tag, context], { env: { DOCKER_BUILDKIT: '1' }, timeout: 300_000 });
  }

  const planning = (): Planning => ({
    copy: async (patterns, destination, options = {}) => {
      const { from, ...rest } = options;
      const tree = from ? SourceTree.rootfs(rootfs, { kind: 'image', name: BASE }) : SourceTree.context(context);
      return planCopy({ sources: await tree.resolveSources(patterns), destination, workdir: '/', existing: rootfsLookup(rootfs), ...rest });
    },
    add: async (patterns, destination, options = {}) => {
      const sources = await resolveAddSources(SourceTree.context(context), patterns, { scratchDir: join(work, 'scratch') });
      return planCopy({ sources, destination, workdir: '/', existing: rootfsLookup(rootfs), instruction: 'ADD', ...options });
    },
    chown: (spec) => resolveChown(spec, (path) => SourceTree.rootfs(rootfs, { kind: 'image', name: BASE }).readFile(path)),
  });

  for (const c of CASES) {
    test(c.line, async () => {
      const planned = await c.plan(planning());
      const under = (path: string): boolean => c.roots.some((root) => path === root || path.startsWith(`${root}/`));
      const built = [...listing.entries()].filter(([path]) => under(path));
      const byPath = new Map(planned.filter((e) => under(e.path)).map((e) => [e.path, e]));
      assert.deepEqual([...byPath.keys()].sort(), built.map(([path]) => path).sort(), 'the same paths');
      for (const [path, real] of built) {
        const entry = byPath.get(path)!;
        assert.ok(entry.type !== 'whiteout' && entry.type !== 'opaque');
        const type = entry.type === 'hardlink' ? 'file' : entry.type;
        const shown = `${path}: planned ${type} ${entry.mode.toString(8)} ${entry.uid}:${entry.gid}, BuildKit ${real.type} ${real.mode.toString(8)} ${real.uid}:${real.gid}`;
        assert.equal(type, real.type, shown);
        assert.equal(entry.mode, real.mode, shown);
        assert.equal(`${entry.uid}:${entry.gid}`, `${real.uid}:${real.gid}`, shown);
        if (entry.type === 'symlink') assert.equal(entry.target, real.target, shown);
        if (entry.type === 'file' || entry.type === 'hardlink') assert.equal(entry.mtime, real.mtime, `${path}: mtime`);
        if (entry.type === 'hardlink') assert.equal(real.inode, listing.get(entry.target)!.inode, `${path} is a hardlink to ${entry.target}`);
        if (entry.type === 'file') {
          const linked = planned.some((e) => e.type === 'hardlink' && e.target === path);
          assert.equal(real.links > 1, linked, `${path}: hardlinked in BuildKit: ${real.links > 1}, planned: ${linked}`);
        }
      }
    });
  }
});

/** The archive ADD extracts: owned entries, a hardlink, symlinks, a file without parent entries. */
function archive(): Promise<Buffer> {
  const owner = { uid: 1000, gid: 1001, mtime: new Date(T2003 * 1000) };
  return tarOf([
    { header: { name: 'top/', type: 'directory', mode: 0o755, ...owner } },
    { header: { name: 'top/in/', type: 'directory', mode: 0o700, ...owner } },
    { header: { name: 'top/in/one', type: 'file', mode: 0o600, ...owner }, content: 'one\n' },
    { header: { name: 'top/hl', type: 'link', linkname: 'top/in/one', mode: 0o600, ...owner } },
    { header: { name: 'top/in/sl', type: 'symlink', linkname: 'one', mode: 0o777, ...owner } },
    { header: { name: 'orphan/deep/file', type: 'file', mode: 0o640, ...owner }, content: 'deep\n' },
  ]);
}
