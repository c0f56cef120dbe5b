// What a RUN sees in runContainer against what it sees under the docker engine's BuildKit, over the
// same busybox root filesystem: hostname, /etc files, users, capabilities, network, mounts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SourceTree } from '../../builder/context/build-context.js';
import { resolveContainerUser } from '../../builder/runtime/container-user.js';
import { runContainer } from '../../builder/runtime/run-container.js';
import { docker, dockerUnavailableReason } from '../e2e/harness.js';
import { tempDir } from '../support/temp-dir.js';
import { busyboxRootfs } from './busybox-rootfs.js';

const execFileAsync = promisify(execFile);

const IMAGE = 'wharf-runtime-test/busybox:latest';
const BUILT = 'wharf-runtime-test/probe:latest';

const PROBE = [
  'echo "== hostname"; hostname',
  'echo "== hosts"; cat /etc/hosts',
  'echo "== resolv.conf"; cat /etc/resolv.conf',
  'echo "== id"; id',
  'echo "== capabilities"; grep ^Cap /proc/self/status',
  'echo "== interfaces"; grep : /proc/net/dev | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/flags',
  // Mount points and their filesystem types (after the "-" field), but the root's (BuildKit's is
  // an overlay; this test's a directory) and the cgroup hierarchies (the host's business).
  'echo "== mounts"; awk \'$5 != "/" && $5 !~ "^/sys/fs/cgroup/" { i = 7; while ($i != "-") i++; print $5, $(i + 1) }\' /proc/self/mountinfo | sort',
].join('; ');

/** Each RUN of the probe Dockerfile: the user it runs as and its script. */
const STEPS: [user: string, script: string][] = [
  ['', PROBE],
  ['app', 'echo "== id app"; id'],
  ['1000:50', 'echo "== id 1000:50"; id'],
  ['4242', 'echo "== id 4242"; id'],
];

const unavailable = await dockerUnavailableReason();

test('a RUN sees what it sees under BuildKit (network none)', { skip: unavailable ?? false }, async (t) => {
  const rootfs = await busyboxRootfs(t);
  const { stdout: tar } = await execFileAsync('tar', ['-C', rootfs, '-cf', '-', '.'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  await docker(['import', '-', IMAGE], { input: tar });
  t.after(() => docker(['rmi', '--force', BUILT, IMAGE]).catch(() => {}));

  const context = await tempDir(t);
  const dockerfile = [`FROM ${IMAGE}`, ...STEPS.flatMap(([user, script]) => [`USER ${user || 'root'}`, `RUN ${script}`])];
  await writeFile(join(context, 'Dockerfile'), `${dockerfile.join('\n')}\n`);
  const { stdout, stderr } = await docker(['build', '--no-cache', '--network', 'none', '--progress', 'plain', '-t', BUILT, context], { env: { DOCKER_BUILDKIT: '1' } });
  // Plain progress prints a RUN's output as `#5 0.102 TEXT`.
  const buildkit = `${stdout}${stderr}`
    .split('\n')
    .flatMap((line) => /^#\d+ \d+\.\d+ (.*)$/.exec(line)?.[1] ?? [])
    .join('\n');

  const tree = SourceTree.rootfs(rootfs, { kind: 'image', name: IMAGE });
  const stateDir = await tempDir(t, 'wharf-state-');
  let ours = '';
  for (const [user, script] of STEPS) {
    await runContainer({
      rootfs,
      stateDir,
      args: ['/bin/sh', '-c', script],
      env: ['PATH=/bin'],
      cwd: '/',
      user: await resolveContainerUser(user, (path) => tree.readFile(path)),
      network: 'none',
      onOutput: (chunk) => (ours += chunk.toString()),
    });
  }
  assert.deepEqual(sections(ours), sections(buildkit));
});

/** The probe's output by section (`== name` headers). */
function sections(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  let name = '';
  for (const line of output.trimEnd().split('\n')) {
    if (line.startsWith('== ')) name = line.slice(3);
    else out[name] = `${out[name] ?? ''}${line}\n`;
  }
  return out;
}
