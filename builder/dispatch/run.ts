import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { layerTarDigest } from '../../shared/layer/layer-writer.js';
import { MediaType } from '../../shared/media-types.js';
import { makeScratchDirectory } from '../build-root.js';
import { cachedStep, stepLayer, type BuildSession } from '../build-session.js';
import { cacheKey } from '../cache/cache-key.js';
import { SourceTree } from '../context/build-context.js';
import { expandWord, parseRunMount, runHeredocPlan, type RunInstruction, type RunMount } from '../frontend/index.js';
import { resolveContainerUser } from '../runtime/container-user.js';
import type { NetworkMode } from '../runtime/network-files.js';
import type { ContainerMount } from '../runtime/oci-spec.js';
import { runContainer } from '../runtime/run-container.js';
import { overlayDiff } from '../snapshot/overlay-diff.js';
import { runInOverlay } from '../snapshot/run-overlay.js';
import type { StageState } from '../stage-state.js';
import { prepareRunMounts } from './run-mounts.js';
import { StepOutput } from './step-output.js';

/** A RUN whose command exited non-zero, worded as BuildKit words it. */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
}

/** The shell of a stage without SHELL. */
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * RUN: the command runs in the OCI runtime over an overlay of the stage's layers; what it changed
 * (the overlay's upper directory) becomes the step's layer. Keyed by the command, its environment
 * and build args, user, working directory, network and mounts on top of the parent's key.
 */
export async function dispatchRun(session: BuildSession, state: StageState, instruction: RunInstruction, step: number): Promise<boolean> {
  const plan = runHeredocPlan(instruction);
  const shell = state.config.Shell ?? DEFAULT_SHELL;
  const args = plan.command.form === 'shell' ? [...shell, plan.command.command] : plan.command.args;
  const network = runNetwork(instruction.network, session.options.network);
  const mounts = instruction.mounts.map((spec) => parseRunMount(spec, (value) => expandWord(value, state.lookup(), session.escapeToken), session.dockerfileName, instruction.line));
  const buildArgs = [...state.args].filter(([name]) => state.env(name) === undefined);
  const env = [...(state.config.Env ?? []), ...buildArgs.map(([name, value]) => `${name}=${value}`)];
  const createdBy = `RUN ${historyCommand(args, buildArgs)} # buildkit`;
  const key = cacheKey(
    state.key,
    'RUN',
    createdBy,
    args,
    env,
    state.config.User ?? '',
    state.workdir(),
    network,
    mounts.map(mountKey),
    plan.script ? [plan.script.path, plan.script.content] : null,
  );
  const { step: result, cached } = await cachedStep(session, state, key, createdBy, async () => {
    const changes = await runInOverlay(session.snapshots, session.options.root, state.layers, async (rootfs) => {
      const user = await resolveContainerUser(state.config.User ?? '', (path) => SourceTree.rootfs(rootfs, { kind: 'stage', name: state.name }).readFile(path));
      const scratch = await makeScratchDirectory(session.options.root, 'run');
      const output = new StepOutput((line) => session.progress.log(step, line));
      try {
        const extra: ContainerMount[] = [];
        if (plan.script) {
          const file = join(scratch, 'script');
          await writeFile(file, plan.script.content, { mode: 0o755 });
          extra.push({ type: 'bind', source: file, destination: plan.script.path, readonly: true });
        }
        const prepared = await prepareRunMounts(session, mounts, scratch);
        try {
          const code = await runContainer({
            runtime: session.options.runtime,
            rootfs,
            stateDir: join(session.options.root, 'runtime'),
            args,
            env: [...env, ...prepared.env],
            cwd: state.workdir(),
            user,
            network,
            mounts: [...extra, ...prepared.mounts],
            onOutput: (chunk) => output.write(chunk),
          });
          output.end();
          if (code !== 0) throw new RunFailedError(`process "${args.join(' ')}" did not complete successfully: exit code: ${code}`);
        } finally {
          await prepared.release();
        }
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    });
    try {
      // Always a layer, empty or not, as BuildKit makes one for every RUN.
      // The upper dir becomes the layer's snapshot and the only copy of its files: the tar is only
      // hashed now, and made again from the snapshot when an output needs it (as BuildKit does).
      const sourceDateEpoch = session.options.sourceDateEpoch;
      const { diffId, size } = await layerTarDigest(await overlayDiff(changes.upperDir), { sourceDateEpoch });
      const chainId = await changes.keep({ diffId });
      return { layer: { descriptor: { mediaType: MediaType.OciLayer, digest: diffId, size }, diffId, snapshot: { chainId, sourceDateEpoch } } };
    } finally {
      await changes.release();
    }
  });
  if (result.layer) state.layers.push(stepLayer(session, result.layer));
  return cached;
}

/** `RUN --network=` over the build's --network: `default` (or none given) means the build's. */
function runNetwork(flag: string | undefined, build: NetworkMode): NetworkMode {
  if (flag === undefined || flag === 'default') return build;
  if (flag === 'none' || flag === 'host') return flag;
  throw new Error(`unsupported network mode "${flag}" (default, none or host)`);
}

/** What of a mount decides the step's result: never a secret's value (BuildKit keeps secrets out of keys too). */
function mountKey(mount: RunMount): string {
  return JSON.stringify(mount);
}

/**
 * The command as BuildKit's history shows it: the build args in scope first (`|2 A=1 B=2`), then
 * the arguments joined with spaces.
 */
function historyCommand(args: readonly string[], buildArgs: readonly (readonly [string, string])[]): string {
  const prefix = buildArgs.length > 0 ? [`|${buildArgs.length}`, ...buildArgs.map(([name, value]) => `${name}=${value}`)] : [];
  return [...prefix, ...args].join(' ');
}

