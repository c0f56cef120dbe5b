import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { LayerEntry } from '../../shared/layer/layer-entry.js';
import { cachedStep, stepLayer, storeStepLayer, type BuildSession } from '../build-session.js';
import { cacheKey } from '../cache/cache-key.js';
import { resolveChown } from '../context/copy-plan.js';
import type { WorkdirInstruction } from '../frontend/index.js';
import type { StageState } from '../stage-state.js';

/**
 * WORKDIR sets the working directory and, as BuildKit does, makes a layer that creates it (and its
 * parents) owned by the stage's USER; the layer is empty when the directory exists. `/` makes none.
 */
export async function dispatchWorkdir(session: BuildSession, state: StageState, instruction: WorkdirInstruction): Promise<boolean> {
  const directory = posix.resolve(state.workdir(), instruction.path);
  state.config.WorkingDir = directory;
  const createdBy = `WORKDIR ${directory}`;
  const key = cacheKey(state.key, 'WORKDIR', directory, state.config.User ?? null);
  const { step, cached } = await cachedStep(session, state, key, createdBy, async () => {
    if (directory === '/') return {};
    const owner = state.config.User ? await resolveChown(state.config.User, (path) => session.readFileOf(state, path)) : { uid: 0, gid: 0 };
    const mtime = session.options.sourceDateEpoch ?? Math.floor(Date.now() / 1000);
    const entries: LayerEntry[] = (await missingDirectories(session, state, directory)).map((path) => ({ type: 'directory', path, mode: 0o755, ...owner, mtime }));
    return storeStepLayer(session, entries);
  });
  if (step.layer) state.layers.push(stepLayer(session, step.layer));
  return cached;
}

/** The directories of `directory` (root-relative, parents first) that the stage's filesystem lacks. */
async function missingDirectories(session: BuildSession, state: StageState, directory: string): Promise<string[]> {
  const parts = directory.split('/').filter(Boolean);
  const paths = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  if (state.layers.length === 0) return paths;
  const root = await session.rootfsOf(state);
  const missing: string[] = [];
  for (const path of paths) if (!(await lstat(join(root, path)).catch(() => undefined))) missing.push(path);
  return missing;
}
