// `wharf build` end to end: the real CLI builds the fixtures under fixtures/build/ FROM a base image
// it pulls from a real `wharf serve`; the docker engine loads and runs what it made; the engine's
// BuildKit builds the same fixtures, and config, history and file tree must agree with it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestFromOutput, docker, dockerUnavailableReason, run } from '../e2e/harness.js';
import { tarFiles } from '../support/tar-reading.js';
import type { CommandResult } from '../support/wharf-process.js';
import { BuildComparison, type BuiltImage } from './build-comparison.js';
import { assertBuilt, buildArgs, dockerRun, fixture, historyOf, startFileServer, stepOutcomes, TempDirs, wharfBuild, type SavedImage } from './build-harness.js';

const unavailable = await dockerUnavailableReason();
if (unavailable) console.log(`# skipping wharf build end-to-end tests that need docker: ${unavailable}`);

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** What the HTTP server for ADD serves. */
const REMOTE_TEXT = 'downloaded over http\n';
const REMOTE_FILES = {
  '/files/remote.txt': REMOTE_TEXT,
  // Same name, other bytes: --checksum must refuse it.
  '/tampered/files/remote.txt': 'not what the checksum says\n',
};

describe('wharf build against BuildKit', { skip: unavailable ?? false }, () => {
  const builds = new BuildComparison();
  let files: Awaited<ReturnType<typeof startFileServer>>;

  before(async () => {
    await builds.start();
    files = await startFileServer(REMOTE_FILES);
  });

  after(async () => {
    await files?.close();
    await builds.stop();
  });

  test('COPY: files, directories, wildcards and destination rules', async (t) => {
    const both = await builds.both('copy-basics');
    await builds.compare(t, both);
    const listing = await both.wharf.listing();
    const paths = listing.map((line) => line.replace(/ \d+ \d+:\d+ .*$/, ''));
    for (const path of [
      '/hello.txt',
      '/into-dir/hello.txt',
      '/new/parents/renamed.txt',
      '/relative.txt',
      '/etc/hello.txt',
      '/from-env/hello.txt',
      '/src-contents/a.txt',
      '/src-contents/nested/deep/file.txt',
      '/src-slash/nested/top.txt',
      '/nested-only/deep/file.txt',
      '/nested-only/top.txt',
      '/markdown/README.md',
      '/markdown/NOTES.md',
      '/wild/a.txt',
      '/wild/c.txt',
      '/class/a.txt',
      '/class/b.txt',
      '/question/c.txt',
      '/multi/a.txt',
      '/multi/b.txt',
      '/json form/hello.txt',
      '/added/hello.txt',
      '/app/hello.txt',
      '/app/sub/hello.txt',
      '/app/tree/nested/top.txt',
    ]) {
      assert.ok(paths.includes(path), `${path} missing from:\n${listing.join('\n')}`);
    }
    // A directory source copies its contents, never the directory itself; wildcards match names only.
    for (const path of ['/src-contents/src', '/markdown/guide.md', '/wild/data.bin', '/class/c.txt', '/wild/link-to-a']) assert.ok(!paths.includes(path), `${path} should not exist`);
    assert.ok(listing.includes('/symlink 644 0:0 file 2 60b725f10c9c85c70d97880dfe8191b3'), 'a symlink named as the source is followed');
    assert.ok(listing.includes('/src-contents/link-to-a 777 0:0 symlink -> a.txt'), 'a symlink inside a copied directory stays a symlink');
    assert.match(listing.find((line) => line.startsWith('/usr/local/bin/run.sh '))!, /^\/usr\/local\/bin\/run.sh 755 0:0 file /);
    assert.equal(await dockerRun(both.wharf.image), 'hello from the context\n');
    assert.equal(await dockerRun(both.wharf.image, [], ['--entrypoint', '/usr/local/bin/run.sh']), 'script ran\n');
    assert.equal(await dockerRun(both.wharf.image, ['-c', 'cat "/json form/hello.txt"; pwd'], ['--entrypoint', '/bin/sh']), 'hello from the context\n/app\n');
    await t.test('copied files keep their modification time, as in BuildKit', async () => {
      const mtimes = (image: string) => dockerRun(image, ['stat', '-c', '%n %Y', '/hello.txt', '/src-contents/nested/deep/file.txt', '/usr/local/bin/run.sh', '/app/tree/c.txt'], ['--entrypoint', '/bin/busybox']);
      assert.equal(await mtimes(both.wharf.image), await mtimes(both.buildkit.image));
    });
  });

  test('.dockerignore: patterns, ** and ! exceptions decide what COPY . sees', async (t) => {
    const both = await builds.both('dockerignore');
    await builds.compare(t, both);
    const copied = (await both.wharf.listing()).filter((line) => line.startsWith('/ctx/') && / file /.test(line)).map((line) => line.split(' ')[0]);
    assert.deepEqual(copied, ['/ctx/app.txt', '/ctx/docs/drafts/x.md', '/ctx/docs/guide.md', '/ctx/keep.log', '/ctx/logs/important.log', '/ctx/secret/public.txt']);
  });

  test('COPY --chown by number and by name from the base image, and --chmod', async (t) => {
    const both = await builds.both('chown-chmod');
    await builds.compare(t, both);
    const listing = await both.wharf.listing();
    const line = (path: string) => listing.find((entry) => entry.startsWith(`${path} `)) ?? `${path} missing`;
    assert.match(line('/numeric/file.txt'), / 644 1000:1000 file /);
    assert.match(line('/uid-only.txt'), / 644 4242:4242 file /);
    assert.match(line('/by-user.txt'), / 644 1000:1000 file /, 'a user name alone takes the user\'s primary group');
    assert.match(line('/by-user-group.txt'), / 644 1000:50 file /);
    assert.match(line('/mixed.txt'), / 644 33:50 file /);
    assert.match(line('/owned-dir/sub/two.txt'), / 644 1000:1000 file /);
    assert.match(line('/owned-dir/sub'), / 755 1000:1000 dir/);
    assert.match(line('/mode-600.txt'), / 600 0:0 file /);
    assert.match(line('/mode-755.txt'), / 755 0:0 file /);
    assert.match(line('/chmod-dir/exec.sh'), / 640 0:0 file /);
    assert.match(line('/new/parent/both.txt'), / 440 33:33 file /);
    await t.test('history names --chown and --chmod, as current BuildKit does (0.8 leaves them out)', () => {
      const createdBy = historyOf(both.wharf.saved).map((entry) => entry.created_by);
      assert.ok(createdBy.includes('COPY --chown=1000:1000 file.txt /numeric/ # buildkit'), createdBy.join('\n'));
      assert.ok(createdBy.includes('COPY --chown=33:33 --chmod=440 file.txt /new/parent/both.txt # buildkit'), createdBy.join('\n'));
    });
  });

  test('multi-stage: COPY --from by name and index, unused stages are never built, --target', async (t) => {
    const both = await builds.both('multi-stage');
    await builds.compare(t, both);
    assert.doesNotMatch(both.wharf.output, /this-file-does-not-exist|broken/, 'the unused stage was built');
    const listing = await both.wharf.listing();
    for (const path of ['/final/a.txt', '/final/all/a.txt', '/final/all/b.txt', '/final/all/dir/x.txt', '/final/by-index/y.txt', '/final/wild/x.txt']) {
      assert.ok(listing.some((entry) => entry.startsWith(`${path} `)), `${path} missing`);
    }
    assert.equal(await dockerRun(both.wharf.image), 'stage a\n');
    await t.test('COPY --from is left out of the history, as BuildKit leaves it out', () => {
      const fromCopies = historyOf(both.wharf.saved).filter((entry) => entry.created_by.startsWith('COPY /out'));
      assert.equal(fromCopies.length, 4, historyOf(both.wharf.saved).map((entry) => entry.created_by).join('\n'));
    });

    await t.test('--target builds the named stage and what it needs', async (t) => {
      const target = await builds.both('multi-stage', { label: 'multi-stage-builder', target: 'builder' });
      await builds.compare(t, target, { files: false });
      assert.equal(await dockerRun(target.wharf.image), 'builder\n');
      assert.deepEqual(stepOutcomes(target.wharf.output).map((step) => step.name), [`[1/3] FROM ${builds.base}`, '[2/3] COPY a.txt /out/a.txt', '[3/3] COPY dir /out/dir/']);
    });
    await t.test('--target of the broken stage fails on its COPY', async () => {
      const root = await builds.temps.make();
      const result = await wharfBuild(['--root', root, '-q', ...buildArgs({ BASE: builds.base }), '--target', 'broken', fixture('multi-stage')]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Dockerfile:9: .*this-file-does-not-exist\.txt/);
    });
  });

  test('ARG before FROM, ARG defaults, --build-arg and ENV from ARG', async (t) => {
    const args = { NAME: 'wharf', VERSION: '1.2' };
    const both = await builds.both('args', { args });
    await builds.compare(t, both);
    const env = both.wharf.config.Env as string[];
    assert.ok(env.includes('MESSAGE=hello wharf'), env.join(' '));
    assert.ok(env.includes('VERSION=1.2'));
    assert.ok(env.includes('META=unset'), 'a meta ARG is not visible in a stage that does not redeclare it');
    assert.ok(env.includes('AFTER=wharf'), 'a --build-arg wins over a later ARG default');
    assert.deepEqual(both.wharf.config.Labels, { greeting: 'hello', name: 'wharf' });
    assert.equal(await dockerRun(both.wharf.image, ['cat', '/named/wharf.txt']), 'override\n');
    await t.test('ARG history shows the value each ARG took, as current BuildKit does (0.8 shows the default)', () => {
      const args = historyOf(both.wharf.saved).map((entry) => entry.created_by).filter((text) => text.startsWith('ARG '));
      assert.deepEqual(args, ['ARG GREETING=hello', 'ARG NAME=wharf', 'ARG VERSION=1.2', 'ARG NAME=wharf']);
    });

    await t.test('without build args the defaults apply, and an unused --build-arg is a warning', async () => {
      const root = await builds.temps.make();
      const result = assertBuilt(await wharfBuild(['--root', root, '--progress', 'plain', '--output', `type=docker,dest=${join(root, 'image.tar')}`, ...buildArgs({ BASE: builds.base, UNUSED: 'x' }), fixture('args')]), 'args');
      assert.match(result.stderr, /^WARNING: one or more build-args \[UNUSED\] were not consumed$/m);
      const archive = await tarFiles(await readFile(join(root, 'image.tar')));
      const manifest = JSON.parse(archive.get('manifest.json')!.toString()) as { Config: string }[];
      const config = JSON.parse(archive.get(manifest[0]!.Config)!.toString()) as SavedImage['config'];
      const defaults = config.config.Env as string[];
      for (const entry of ['MESSAGE=hello world', 'VERSION=none', 'META=unset', 'AFTER=shadowed']) assert.ok(defaults.includes(entry), `${entry} not in ${defaults.join(' ')}`);
    });
  });

  let metadataImages: Promise<{ wharf: BuiltImage; buildkit: BuiltImage; pushed: string }> | undefined;
  /** The metadata fixture, built once: wharf's is also pushed, as the base of onbuild-child. */
  function metadataBuild() {
    metadataImages ??= (async () => {
      const pushed = `${builds.registry.host}/app/metadata:1`;
      const [wharf, buildkit] = await Promise.all([builds.wharf('metadata', { tag: pushed }, ['--push']), builds.buildkit('metadata')]);
      builds.images.add(pushed);
      return { wharf, buildkit, pushed };
    })();
    return metadataImages;
  }

  test('ENV LABEL EXPOSE VOLUME USER WORKDIR SHELL CMD HEALTHCHECK STOPSIGNAL ONBUILD set the config as BuildKit does', async (t) => {
    const both = await metadataBuild();
    await builds.compare(t, both);
    const config = both.wharf.config;
    assert.deepEqual(config.ExposedPorts, { '80/tcp': {}, '443/tcp': {}, '53/udp': {}, '8080/tcp': {} });
    assert.deepEqual(config.Volumes, { '/data': {}, '/cache': {}, '/logs': {} });
    assert.equal(config.WorkingDir, '/srv/app/sub');
    assert.equal(config.User, 'app:staff');
    assert.deepEqual(config.Cmd, ['/bin/sh', '-ec', 'echo "cmd says $A"']);
    assert.deepEqual(config.OnBuild, ['COPY trigger.txt /triggered.txt', 'ENV TRIGGERED=yes']);
    assert.equal(await dockerRun(both.wharf.image), 'cmd says override\n');
    assert.equal(await dockerRun(both.wharf.image, ['-c', 'pwd; /bin/busybox id -u; /bin/busybox id -g; echo "$B|$C"'], ['--entrypoint', '/bin/sh']), '/srv/app/sub\n1000\n50\ntwo words|1\n');
    assert.equal(both.wharf.saved.config.author, 'Wharf Tests <tests@example.com>');
    const history = historyOf(both.wharf.saved);
    await t.test('ONBUILD records no history entry, as in BuildKit', () => {
      assert.deepEqual(history.filter((entry) => entry.created_by.startsWith('ONBUILD')), []);
    });
    await t.test('EXPOSE history names only the ports of that instruction', () => {
      const expose = history.filter((entry) => entry.created_by.startsWith('EXPOSE')).map((entry) => entry.created_by);
      assert.equal(expose.length, 2);
      assert.doesNotMatch(expose[1]!, /[[ ]80\/tcp|443/, expose[1]);
    });
    await t.test('WORKDIR of an existing directory still makes a layer, as in BuildKit', () => {
      assert.deepEqual(history.find((entry) => entry.created_by === 'WORKDIR /tmp'), { created_by: 'WORKDIR /tmp', empty_layer: false, comment: 'buildkit.dockerfile.v0' });
      assert.equal(both.wharf.saved.config.rootfs.diff_ids.length, both.buildkit.saved.config.rootfs.diff_ids.length);
    });
    await t.test('WORKDIR after USER creates the directory owned by that user, as in BuildKit', async () => {
      assert.ok((await both.wharf.listing()).includes('/srv/app/sub 755 1000:50 dir'));
    });
  });

  test('ONBUILD triggers run in a build FROM the image', async (t) => {
    const parent = await metadataBuild();
    const [wharf, buildkit] = await Promise.all([
      builds.wharf('onbuild-child', { args: { PARENT: parent.pushed } }),
      builds.buildkit('onbuild-child', { args: { PARENT: parent.buildkit.image } }),
    ]);
    // The parent's own differences are the metadata test's: here only what the child adds.
    await builds.compare(t, { wharf, buildkit }, {
      files: ['/triggered.txt'],
      historyAfter: { wharf: parent.wharf.saved.config.history!.length, buildkit: parent.buildkit.saved.config.history!.length },
    });
    assert.equal(wharf.config.OnBuild, null, 'triggers are not inherited by the child image');
    assert.equal(wharf.saved.config.author, 'Wharf Tests <tests@example.com>', 'the author (MAINTAINER) is inherited from the base image');
    assert.equal(await dockerRun(wharf.image), 'copied by an ONBUILD trigger\nTRIGGERED=yes\n');
  });

  test('ENTRYPOINT drops an inherited CMD, keeps one set in the Dockerfile', async (t) => {
    for (const target of ['drops-cmd', 'with-cmd', undefined]) {
      await t.test(`target ${target ?? '(last stage)'}`, async (t) => {
        const both = await builds.both('entrypoint', { label: `entrypoint-${target ?? 'last'}`, target });
        await builds.compare(t, both, { files: false });
        assert.equal(await dockerRun(both.wharf.image), await dockerRun(both.buildkit.image));
      });
    }
  });

  test('ADD extracts a local tar.gz and downloads a URL; COPY does not extract', async (t) => {
    const both = await builds.both('add-archive', { args: { SERVER: files.url } });
    await builds.compare(t, both);
    const listing = await both.wharf.listing();
    const line = (path: string) => listing.find((entry) => entry.startsWith(`${path} `)) ?? `${path} missing`;
    assert.match(line('/opt/pkg/readme.txt'), / 644 0:0 file 17 /);
    assert.match(line('/opt/pkg/etc/secret.conf'), / 600 1000:1000 file /);
    assert.match(line('/opt/pkg/tool-link'), / symlink -> bin\/tool$/);
    assert.match(line('/opt/second/pkg/bin/tool'), / 755 0:0 file /);
    assert.match(line('/raw/app.tar.gz'), / 644 0:0 file 274 /);
    assert.match(line('/downloaded/remote.txt'), new RegExp(` 600 0:0 file ${REMOTE_TEXT.length} `));
    assert.match(line('/downloaded-as.txt'), / 600 0:0 file /);
    await t.test('downloaded files take their mtime from Last-Modified, as in BuildKit', async () => {
      const mtimes = async (image: string) => dockerRun(image, ['stat', '-c', '%n %Y', '/downloaded/remote.txt', '/downloaded-as.txt', '/opt/pkg/readme.txt'], ['--entrypoint', '/bin/busybox']);
      assert.equal(await mtimes(both.wharf.image), await mtimes(both.buildkit.image));
    });
  });

  test('ADD --checksum accepts the right download and refuses another', async (t) => {
    const pinned = createHash('sha256').update(REMOTE_TEXT).digest('hex');
    assert.match(await readFile(join(fixture('add-checksum'), 'Dockerfile'), 'utf8'), new RegExp(`--checksum=sha256:${pinned} `));
    const wharf = await builds.wharf('add-checksum', { args: { SERVER: files.url } });
    assert.equal(await dockerRun(wharf.image), REMOTE_TEXT);
    const root = await builds.temps.make();
    const result = await wharfBuild(['--root', root, '-q', ...buildArgs({ BASE: builds.base, SERVER: `${files.url}/tampered` }), fixture('add-checksum')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^wharf build: .*Dockerfile:5: .*checksum/);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    await t.test('history leaves --checksum out, as BuildKit does (as it leaves out --from)', () => {
      assert.equal(historyOf(wharf.saved).at(-2)?.created_by, `ADD ${files.url}/files/remote.txt /checked/ # buildkit`);
    });
  });

  test('COPY from heredocs (BuildKit here is too old for them: checked by running)', async () => {
    const wharf = await builds.wharf('heredoc');
    assert.equal(await dockerRun(wharf.image), 'greetings\n');
    assert.equal(await dockerRun(wharf.image, ['-c', 'cat /etc/motd /etc/app/RAW /etc/app/app.conf'], ['--entrypoint', '/bin/sh']), 'hello from a heredoc\nkeep $literal\nport = 80\n');
    const listing = await wharf.listing();
    assert.match(listing.find((line) => line.startsWith('/etc/motd '))!, /^\/etc\/motd 644 0:0 file /);
    assert.match(listing.find((line) => line.startsWith('/usr/local/bin/greet '))!, /^\/usr\/local\/bin\/greet 755 0:0 file /);
    // As current BuildKit words them (its dispatchCopy: flags, then " <<NAME" per heredoc, then the destination).
    assert.deepEqual(historyOf(wharf.saved).slice(-4, -1).map((entry) => entry.created_by), [
      'COPY <<EOF /etc/motd # buildkit',
      'COPY <<RAW <<app.conf /etc/app/ # buildkit',
      'COPY --chmod=755 <<EOF /usr/local/bin/greet # buildkit',
    ]);
  });

  describe('build cache', () => {
    let context: string;
    let root: string;
    const build = async (...extra: string[]) => {
      const iidfile = join(root, 'iid');
      const result = assertBuilt(await wharfBuild(['--root', join(root, 'state'), '--progress', 'plain', '--iidfile', iidfile, ...buildArgs({ BASE: builds.base }), ...extra, context]), 'cache');
      return { steps: stepOutcomes(result.stderr), id: (await readFile(iidfile, 'utf8')).trim(), output: result.stderr, stdout: result.stdout };
    };
    const outcomes = (steps: { name: string; outcome: string }[]) => steps.filter((step) => !/\] FROM /.test(step.name)).map((step) => `${step.name.replace(/^\[ *\d+\/\d+\] /, '')}: ${step.outcome}`);

    before(async () => {
      context = await builds.temps.copyOf('cache');
      root = await builds.temps.make();
    });

    test('a second build hits the cache for every step and gives the same image ID', async () => {
      const first = await build();
      assert.deepEqual(outcomes(first.steps), ['COPY one.txt /one.txt: DONE', 'COPY two.txt /two.txt: DONE', 'WORKDIR /work: DONE', 'COPY three.txt ./: DONE']);
      const second = await build();
      assert.deepEqual(outcomes(second.steps), ['COPY one.txt /one.txt: CACHED', 'COPY two.txt /two.txt: CACHED', 'WORKDIR /work: CACHED', 'COPY three.txt ./: CACHED'], second.output);
      assert.match(second.steps[0]!.name, /^\[1\/5\] FROM /);
      assert.match(second.output, /^#\d+ CACHED$/m);
      assert.equal(second.id, first.id);
    });

    test('changing one copied file re-runs its COPY and the steps after it', async () => {
      const before = await build();
      await writeFile(join(context, 'two.txt'), 'two, changed\n');
      const changed = await build();
      assert.deepEqual(outcomes(changed.steps), ['COPY one.txt /one.txt: CACHED', 'COPY two.txt /two.txt: DONE', 'WORKDIR /work: DONE', 'COPY three.txt ./: DONE']);
      assert.notEqual(changed.id, before.id);
    });

    test('a changed mtime alone still hits the cache', async () => {
      const before = await build();
      const now = new Date();
      await utimes(join(context, 'one.txt'), now, now);
      const after = await build();
      assert.ok(outcomes(after.steps).every((step) => step.endsWith('CACHED')), after.output);
      assert.equal(after.id, before.id);
    });

    test('a file rewritten with the same size and mtime re-runs its COPY', async () => {
      const before = await build();
      const file = join(context, 'two.txt');
      const { mtime, size } = await stat(file);
      await writeFile(file, 'X'.repeat(size));
      await utimes(file, mtime, mtime);
      const after = await build();
      assert.deepEqual(outcomes(after.steps).slice(0, 2), ['COPY one.txt /one.txt: CACHED', 'COPY two.txt /two.txt: DONE'], after.output);
      assert.notEqual(after.id, before.id);
    });

    test('a build without an output compresses nothing; outputs compress each layer once, then reuse it', async () => {
      const content = join(root, 'state', 'content', 'sha256');
      // Blob name → whether it is gzip (pulled layers, exported ones), by its first two bytes.
      const blobs = async () => new Map(await Promise.all((await readdir(content)).map(async (name) => [name, (await readFile(join(content, name))).subarray(0, 2).equals(GZIP_MAGIC)] as const)));
      const gzipped = (found: Map<string, boolean>) => [...found].filter(([, gzip]) => gzip).map(([name]) => name).sort();
      const plain = await build('--no-cache');
      assert.match(plain.stdout, /^writing image sha256:[0-9a-f]{64}\n$/, 'no manifest without an output');
      const before = await blobs();
      const archive = join(root, 'compressed.tar');
      const exported = await build('--output', `type=docker,dest=${archive}`);
      assert.equal(exported.id, plain.id);
      assert.match(exported.stdout, /\(manifest sha256:[0-9a-f]{64}\)/);
      const after = await blobs();
      assert.equal(gzipped(after).length - gzipped(before).length, 4, 'the three COPY layers and the WORKDIR one, compressed once each');
      await build('--output', `type=oci,dest=${join(root, 'again.tar')}`);
      assert.deepEqual(gzipped(await blobs()), gzipped(after), 'a second output reuses the compressed layers');
      const loaded = await docker(['load', '-i', archive]);
      await docker(['rmi', plain.id]).catch(() => {});
      assert.match(loaded.stdout, new RegExp(plain.id.replace('sha256:', '')));
    });

    test('--no-cache runs every step', async () => {
      const result = await build('--no-cache');
      assert.deepEqual(outcomes(result.steps), ['COPY one.txt /one.txt: DONE', 'COPY two.txt /two.txt: DONE', 'WORKDIR /work: DONE', 'COPY three.txt ./: DONE']);
      assert.doesNotMatch(result.output, /CACHED/);
    });
  });

  test('SOURCE_DATE_EPOCH: two builds with separate roots and context copies give the same image ID', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const context = await builds.temps.copyOf('copy-basics');
      const root = await builds.temps.make();
      const iidfile = join(root, 'iid');
      const oci = join(root, 'image.oci.tar');
      assertBuilt(await wharfBuild(['--root', join(root, 'state'), '-q', '--iidfile', iidfile, '--output', `type=oci,dest=${oci}`, ...buildArgs({ BASE: builds.base }), context], { SOURCE_DATE_EPOCH: '1700000000' }), 'reproducible');
      ids.push((await readFile(iidfile, 'utf8')).trim());
      if (i === 0) {
        const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci-archive:${oci}`])).stdout) as SavedImage['config'];
        assert.equal(config.created, '2023-11-14T22:13:20Z');
      }
      // Give the second copy different mtimes.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    assert.match(ids[0]!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ids[1], ids[0]);
  });

  test('--push, then docker pull and run; --metadata-file has the pushed digest', async () => {
    const root = await builds.temps.make();
    const tag = `${builds.registry.host}/app/demo:1`;
    const metadataFile = join(root, 'metadata.json');
    const iidfile = join(root, 'iid');
    assertBuilt(await wharfBuild(['--root', root, '-q', '-t', tag, '--push', '--metadata-file', metadataFile, '--iidfile', iidfile, ...buildArgs({ BASE: builds.base }), fixture('copy-basics')]), 'push');
    builds.images.add(tag);
    const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as Record<string, string>;
    await docker(['rmi', '-f', tag]).catch(() => {});
    const pulled = await docker(['pull', tag]);
    assert.equal(metadata['containerimage.digest'], digestFromOutput(pulled.stdout));
    assert.equal(metadata['containerimage.config.digest'], (await readFile(iidfile, 'utf8')).trim());
    assert.equal(metadata['image.name'], tag);
    const id = (await docker(['image', 'inspect', '--format', '{{.Id}}', tag])).stdout.trim();
    assert.equal(id, metadata['containerimage.config.digest']);
    assert.equal(await dockerRun(tag), 'hello from the context\n');
  });

  test('--output type=oci writes an archive skopeo reads', async () => {
    const root = await builds.temps.make();
    const dest = join(root, 'image.oci.tar');
    const iidfile = join(root, 'iid');
    assertBuilt(await wharfBuild(['--root', root, '-q', '-t', 'example.com/app/oci:2', '--iidfile', iidfile, '--output', `type=oci,dest=${dest}`, ...buildArgs({ BASE: builds.base }), fixture('cache')]), 'oci');
    const inspected = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${dest}`])).stdout) as { Layers: string[]; Architecture: string; Os: string };
    assert.equal(inspected.Os, 'linux');
    assert.equal(inspected.Layers.length, 5, 'base + three COPY layers + WORKDIR');
    const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${dest}`])).stdout) as { mediaType: string; config: { digest: string } };
    assert.equal(raw.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(raw.config.digest, (await readFile(iidfile, 'utf8')).trim());
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci-archive:${dest}`])).stdout) as SavedImage['config'];
    assert.deepEqual(config.config.Cmd, ['cat', '/one.txt', '/two.txt', '/work/three.txt']);
  });
});

describe('wharf build refuses bad input with one line naming the problem', () => {
  const temps = new TempDirs();
  after(() => temps.removeAll());

  /** Builds a bad fixture quietly (so that stderr holds only the error); asserts exit 1 and one line. */
  async function failingBuild(name: string, extra: readonly string[] = []): Promise<string> {
    const root = await temps.make();
    const result: CommandResult = await wharfBuild(['--root', root, '-q', ...extra, fixture(`bad/${name}`)]);
    assert.equal(result.code, 1, `exit code; stderr:\n${result.stderr}`);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
    assert.match(lines[0]!, /^wharf build: /);
    return lines[0]!;
  }

  test('a missing source file: the file and Dockerfile:LINE', async () => {
    const line = await failingBuild('missing-source');
    assert.match(line, /Dockerfile:4: /);
    assert.match(line, /missing\.txt/);
    assert.doesNotMatch(line, /COPY failed: COPY failed/, 'the instruction is named once');
  });

  test('an unknown instruction', async () => {
    assert.match(await failingBuild('unknown-instruction'), /Dockerfile:3: unknown instruction: FROBNICATE/i);
  });

  test('COPY --from a stage that is not defined names it', async () => {
    const line = await failingBuild('unknown-from');
    assert.match(line, /Dockerfile:6: /);
    assert.match(line, /buidler/);
  });

  test('a --target that does not exist', async () => {
    assert.match(await failingBuild('missing-source', ['--target', 'nope']), /target stage "?nope"? could not be found/);
  });

  test('an unreachable registry', async () => {
    const line = await failingBuild('unreachable-registry');
    assert.match(line, /Dockerfile:2: FROM 127\.0\.0\.1:1\/nothing: /);
    assert.match(line, /ECONNREFUSED|connection refused/i);
  });

  test('a source outside the context', async () => {
    const line = await failingBuild('outside-context');
    assert.match(line, /Dockerfile:3: .*outside the build context.*\.\.\/outside\.txt|Dockerfile:3: .*\.\.\/outside\.txt.*outside/);
    assert.doesNotMatch(line, /COPY failed: COPY failed/);
  });


  test('progress output ends with the error, without a stack trace', async () => {
    const root = await temps.make();
    const result = await wharfBuild(['--root', root, '--progress', 'plain', fixture('bad/missing-source')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^#\d+ ERROR .*missing\.txt/m);
    assert.match(result.stderr.trimEnd().split('\n').at(-1)!, /^wharf build: .*Dockerfile:4: /);
    assert.doesNotMatch(result.stderr, /^\s+at /m);
  });
});
