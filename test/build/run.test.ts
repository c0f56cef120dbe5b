// RUN end to end: the compiled CLI runs the fixtures' RUN steps in runc over overlayfs, the engine
// loads and runs the images, and the engine's BuildKit builds the same fixtures for comparison.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { docker, dockerUnavailableReason } from '../e2e/harness.js';
import { readTar } from '../support/tar-reading.js';
import { BuildComparison } from './build-comparison.js';
import { assertBuilt, buildArgs, dockerLoad, dockerRun, dockerSaveBytes, fixture, historyOf, stepOutcomes, wharfBuild } from './build-harness.js';

const unavailable = (await dockerUnavailableReason()) ?? (await runcUnavailableReason());
if (unavailable) console.log(`# skipping RUN end-to-end tests: ${unavailable}`);

async function runcUnavailableReason(): Promise<string | undefined> {
  return readFile('/proc/filesystems', 'utf8').then(
    (filesystems) => (/\toverlay$/m.test(filesystems) ? undefined : 'the kernel has no overlayfs'),
    () => 'no /proc/filesystems',
  );
}

const SECRET = 'sup3r-s3cret-value';

describe('RUN against BuildKit', { skip: unavailable ?? false }, () => {
  const builds = new BuildComparison();
  let secretFile: string;

  before(async () => {
    await builds.start();
    const dir = await builds.temps.make();
    secretFile = join(dir, 'token.txt');
    await writeFile(secretFile, SECRET);
  });
  after(() => builds.stop());

  test('shell and exec form, SHELL, ENV, ARG, WORKDIR and USER reach the command', async (t) => {
    const both = await builds.both('run-basics');
    await builds.compare(t, both);
    await t.test('the image runs', async () => {
      assert.equal(await dockerRun(both.wharf.image), 'hello\n');
    });
    await t.test('the command sees what BuildKit shows it', async () => {
      const listing = await both.wharf.listing();
      assert.ok(listing.some((line) => line.startsWith('/tmp/owned-by-app 644 1000:1000 file')), 'USER app owns what it writes');
      const where = await dockerRun(both.wharf.image, ['cat', '/work/where.txt', '/hostname.txt']);
      assert.equal(where, '/work\nhi\nbuildkitsandbox\n');
    });
    await t.test('plain progress shows the command output under its step, as BuildKit does', () => {
      assert.match(both.wharf.output, /^#\d+ \d+\.\d{3} building 1\.0$/m);
      assert.deepEqual(runOutput(both.wharf.output), runOutput(both.buildkit.output));
    });
  });

  test('layers carry deletions, recreated directories, renames, links, fifos, long names and modes', async (t) => {
    await builds.compare(t, await builds.both('run-filesystem'));
  });

  test('multi-stage: stages RUN, the final one copies from another; the failing stage is never built', async (t) => {
    const both = await builds.both('run-multistage');
    await builds.compare(t, both);
    await t.test('the unused stage did not run', () => {
      assert.doesNotMatch(both.wharf.output, /this stage must not run/);
    });
  });

  test('RUN --mount: cache, secret, bind of the context, tmpfs', async (t) => {
    const spec = { label: 'run-mounts' };
    const wharf = await builds.wharf('run-mounts', spec, ['--secret', `id=token,src=${secretFile}`]);
    const buildkit = await builds.buildkit('run-mounts', spec, ['--secret', `id=token,src=${secretFile}`]);
    // BuildKit 0.8 leaves the mount points runc made in the image; BuildKit 0.9+ removes them when still empty, as wharf does.
    const stubs = ['/cache', '/ctx', '/run', '/run/secrets', '/scratch'];
    const listing = (image: typeof wharf) => async () => (await image.listing()).filter((line) => !stubs.includes(line.split(' ')[0]!));
    await builds.compare(t, { wharf: { ...wharf, listing: listing(wharf) }, buildkit: { ...buildkit, listing: listing(buildkit) } });
    await t.test('the mount points runc made are gone again', async () => {
      for (const stub of stubs) assert.ok(!(await wharf.listing()).some((line) => line.startsWith(`${stub} `)), stub);
    });
    await t.test('the secret is in no layer and no history entry', async () => {
      const saved = await dockerSaveBytes(wharf.image);
      assert.equal(saved.includes(Buffer.from(SECRET)), false, 'secret bytes in the image');
      assert.ok(historyOf(wharf.saved).every((entry) => !entry.created_by.includes(SECRET)));
      assert.equal(await dockerRun(wharf.image, ['cat', '/token.sha256']), sha256Line(SECRET));
    });
  });

  test('a cache mount persists from one build to the next', async () => {
    const root = await builds.temps.make();
    const counts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const archive = join(root, `image-${i}.tar`);
      const tag = `wharf-build-test/run-cache-mount:${i}`;
      assertBuilt(
        await wharfBuild(['--root', join(root, 'state'), '-q', '--no-cache', '-t', tag, '--output', `type=docker,dest=${archive}`, '--secret', `id=token,src=${secretFile}`, ...buildArgs({ BASE: builds.base }), fixture('run-mounts')]),
        'cache mount',
      );
      builds.images.add(tag);
      await dockerLoad(archive);
      counts.push((await dockerRun(tag, ['cat', '/cache-count.txt'])).trim());
    }
    assert.deepEqual(counts, ['1', '2']);
  });

  test('a secret can be an environment variable', async () => {
    const context = await builds.temps.make();
    await writeFile(join(context, 'Dockerfile'), 'ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=token,env=TOKEN echo "$TOKEN" | sha256sum > /from-env.sha256\n');
    const root = await builds.temps.make();
    const archive = join(root, 'image.tar');
    const tag = 'wharf-build-test/run-secret-env:latest';
    assertBuilt(await wharfBuild(['--root', join(root, 'state'), '-q', '-t', tag, '--output', `type=docker,dest=${archive}`, '--secret', 'id=token,env=WHARF_TEST_TOKEN', ...buildArgs({ BASE: builds.base }), context], { WHARF_TEST_TOKEN: SECRET }), 'env secret');
    builds.images.add(tag);
    await dockerLoad(archive);
    assert.equal(await dockerRun(tag, ['cat', '/from-env.sha256']), sha256Line(`${SECRET}\n`));
    assert.equal((await dockerSaveBytes(tag)).includes(Buffer.from(SECRET)), false);
  });

  test('heredocs: a body run by the shell, a #! script, several heredocs, <<- and quoted delimiters (BuildKit here is too old: checked by running)', async () => {
    const image = await builds.wharf('run-heredoc');
    const files = await dockerRun(image.image, ['cat', '/heredoc.txt', '/script.txt', '/written.txt', '/copied.txt', '/stripped.txt', '/a.txt', '/b.txt']);
    assert.equal(files, 'from a heredoc\nsecond line\nscript run by /dev/pipes/SCRIPT\n\tkept "/root" as written\n\tkept "/root" as written\ntabs stripped\nfirst\nsecond\n');
  });

  test('a second build reuses every RUN and gives the same image ID', async () => {
    const root = await builds.temps.make();
    const build = async () => {
      const iidfile = join(root, 'iid');
      const result = assertBuilt(await wharfBuild(['--root', join(root, 'state'), '--progress', 'plain', '--iidfile', iidfile, ...buildArgs({ BASE: builds.base }), fixture('run-basics')]), 'run cache');
      return { outcomes: stepOutcomes(result.stderr).filter((step) => / RUN /.test(step.name)).map((step) => step.outcome), id: await readFile(iidfile, 'utf8') };
    };
    const first = await build();
    assert.ok(first.outcomes.length >= 6 && first.outcomes.every((outcome) => outcome === 'DONE'), first.outcomes.join());
    const second = await build();
    assert.ok(second.outcomes.every((outcome) => outcome === 'CACHED'), second.outcomes.join());
    assert.equal(second.id, first.id);
  });

  test('a RUN layer is kept only as its snapshot; an output makes its tar again, and a changed snapshot fails it in one line', async () => {
    const root = await builds.temps.make();
    const state = join(root, 'state');
    const iidfile = join(root, 'iid');
    const build = (extra: string[]) => wharfBuild(['--root', state, '-q', '--iidfile', iidfile, ...extra, ...buildArgs({ BASE: builds.base }), fixture('run-basics')]);
    assertBuilt(await build([]), 'without an output');
    const id = await readFile(iidfile, 'utf8');
    // No blob of the content store is a tar holding a RUN's files (the base layer is gzip, WORKDIR's a tar of work/).
    const content = join(state, 'content', 'sha256');
    for (const name of await readdir(content)) {
      const blob = await readFile(join(content, name));
      if (blob.subarray(257, 262).toString('latin1') !== 'ustar') continue;
      const entries = (await readTar(blob)).map((entry) => entry.header.name);
      assert.ok(!entries.includes('hello.txt'), `blob ${name} is a RUN's tar: ${entries.join(' ')}`);
    }
    const archive = join(root, 'image.tar');
    assertBuilt(await build(['--output', `type=docker,dest=${archive}`]), 'with an output');
    assert.equal(await dockerLoad(archive), id, 'the tars made again from the snapshots give the image ID the build computed');
    await docker(['rmi', id]).catch(() => {});

    const snapshots = join(state, 'snapshots');
    const [changed] = (await readdir(snapshots)).filter((name) => existsSync(join(snapshots, name, 'hello.txt')));
    await appendFile(join(snapshots, changed!, 'hello.txt'), 'changed behind the build\'s back\n');
    const refused = await build(['--compression', 'zstd', '--output', `type=oci,dest=${join(root, 'image.oci.tar')}`]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`^wharf build: the snapshot .*${changed} of layer sha256:[0-9a-f]{64} now makes a tar with digest sha256:[0-9a-f]{64}: it was changed; remove it, or build with --no-cache\\n$`, 'm'));
  });

  test('--cache-to a registry, then --cache-from into an empty root: RUN steps are CACHED, not run again', async () => {
    const context = await builds.temps.make();
    // A step that gives other bytes each time it runs: the same image ID proves it did not run.
    await writeFile(join(context, 'Dockerfile'), 'ARG BASE\nFROM ${BASE}\nRUN cat /proc/sys/kernel/random/uuid > /run-id\nRUN echo done > /done\n');
    const ref = `${builds.registry.host}/cache/run:latest`;
    const build = async (flags: string[]) => {
      const root = await builds.temps.make();
      const iidfile = join(root, 'iid');
      const result = assertBuilt(await wharfBuild(['--root', join(root, 'state'), '--progress', 'plain', '--iidfile', iidfile, ...flags, ...buildArgs({ BASE: builds.base }), context]), 'registry cache');
      return { outcomes: stepOutcomes(result.stderr).filter((step) => / RUN /.test(step.name)).map((step) => step.outcome), id: await readFile(iidfile, 'utf8') };
    };
    const exported = await build(['--cache-to', `type=registry,ref=${ref}`]);
    assert.deepEqual(exported.outcomes, ['DONE', 'DONE']);
    const imported = await build(['--cache-from', `type=registry,ref=${ref}`]);
    assert.deepEqual(imported.outcomes, ['CACHED', 'CACHED']);
    assert.equal(imported.id, exported.id);
  });

  test('RUN --network=none sees only loopback; the default (host) sees the host interfaces', async () => {
    const context = await builds.temps.make();
    await writeFile(join(context, 'Dockerfile'), 'ARG BASE\nFROM ${BASE}\nRUN --network=none cat /proc/net/dev > /none.txt\nRUN cat /proc/net/dev > /host.txt\n');
    const image = await builds.wharf('network', { context, label: 'run-network' });
    const interfaces = (text: string) => text.split('\n').slice(2).filter(Boolean).map((line) => line.split(':')[0]!.trim()).sort();
    assert.deepEqual(interfaces(await dockerRun(image.image, ['cat', '/none.txt'])), ['lo']);
    const host = interfaces(await dockerRun(image.image, ['cat', '/host.txt']));
    assert.deepEqual(host, interfaces(await readFile('/proc/net/dev', 'utf8')));
  });

  test('SOURCE_DATE_EPOCH: two cold builds with RUN steps give the same image ID', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const root = await builds.temps.make();
      const iidfile = join(root, 'iid');
      assertBuilt(await wharfBuild(['--root', join(root, 'state'), '-q', '--iidfile', iidfile, ...buildArgs({ BASE: builds.base }), fixture('run-filesystem')], { SOURCE_DATE_EPOCH: '1700000000' }), 'reproducible RUN');
      ids.push(await readFile(iidfile, 'utf8'));
      // Let the second build's files get other mtimes.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    assert.equal(ids[1], ids[0]);
  });

  test('without the OCI runtime a RUN fails saying what to install', async () => {
    const root = await builds.temps.make();
    const result = await wharfBuild(['--root', root, '-q', '--runtime', 'no-such-runtime', ...buildArgs({ BASE: builds.base }), fixture('run-multistage')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr.trim(), /^wharf build: \S*Dockerfile:\d+: RUN failed: RUN needs an OCI runtime: apt-get install runc, or pass --runtime \(no-such-runtime was not found\)$/);
  });

  test('a failing RUN fails the build naming the line and exit code, after its output', async () => {
    const root = await builds.temps.make();
    const result = await wharfBuild(['--root', root, '--progress', 'plain', ...buildArgs({ BASE: builds.base }), fixture('bad/run-fails')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /about to fail/);
    const last = result.stderr.trimEnd().split('\n').at(-1)!;
    assert.match(last, /^wharf build: \S*Dockerfile:4: RUN failed: process "\/bin\/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3$/);
  });
});

/** Each RUN step's output lines in plain progress (`#7 0.213 text`), by step name, the timestamps left out. */
function runOutput(progress: string): Record<string, string[]> {
  const names = new Map<string, string>();
  const out: Record<string, string[]> = {};
  for (const line of progress.split('\n')) {
    const match = /^#(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const [, id, rest] = match as unknown as [string, string, string];
    if (!names.has(id)) {
      names.set(id, rest);
      continue;
    }
    const text = /^\d+\.\d+ (.*)$/.exec(rest)?.[1];
    if (text !== undefined && / RUN /.test(names.get(id)!)) (out[names.get(id)!] ??= []).push(text);
  }
  return out;
}

/** What busybox `sha256sum` prints for these bytes read from stdin. */
function sha256Line(text: string): string {
  return `${createHash('sha256').update(text).digest('hex')}  -\n`;
}
