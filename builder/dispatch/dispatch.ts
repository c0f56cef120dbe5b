import { BuildStepError, type BuildSession } from '../build-session.js';
import { expandInstruction, type Instruction } from '../frontend/index.js';
import type { StageState } from '../stage-state.js';
import { dispatchCopy } from './copy.js';
import {
  dispatchArg,
  dispatchCmd,
  dispatchEntrypoint,
  dispatchEnv,
  dispatchExpose,
  dispatchHealthcheck,
  dispatchLabel,
  dispatchMaintainer,
  dispatchOnbuild,
  dispatchShell,
  dispatchStopsignal,
  dispatchUser,
  dispatchVolume,
} from './metadata.js';
import { dispatchWorkdir } from './workdir.js';

/** What a stage's dispatch loop keeps between instructions. */
export interface DispatchScope {
  /** The meta ARGs (before the first FROM), for `ARG NAME` re-declarations. */
  readonly metaArgs: ReadonlyMap<string, string>;
  /** Whether CMD was set in this stage (ENTRYPOINT keeps it then). */
  cmdSet: boolean;
}

/** Instructions that make a layer and show as a step in the progress list, as BuildKit shows them. */
export function isStep(instruction: Instruction): boolean {
  return ['COPY', 'ADD', 'RUN', 'WORKDIR'].includes(instruction.kind);
}

/**
 * Dispatches one instruction: expands it with the stage's variables, then runs the function for
 * its kind. Returns whether a layer step was served from the cache (nothing for config steps).
 */
export async function dispatchInstruction(
  session: BuildSession,
  state: StageState,
  raw: Instruction,
  scope: DispatchScope,
  /** The progress step it shows as (for a RUN's output lines). */
  progressStep: number | undefined,
): Promise<boolean | void> {
  const instruction = expandInstruction(raw, state.lookup(), session.escapeToken, session.dockerfileName);
  switch (instruction.kind) {
    case 'COPY':
    case 'ADD':
      return dispatchCopy(session, state, instruction);
    case 'WORKDIR':
      return dispatchWorkdir(session, state, instruction);
    case 'RUN':
      // Loaded on first use: a RUN-free build (most warm rebuilds' hot path) never pays for the runtime and snapshots.
      return (await import('./run.js')).dispatchRun(session, state, instruction, progressStep!);
    case 'FROM':
      throw new BuildStepError(session.dockerfileName, instruction.line, 'FROM inside a stage');
    case 'ENV':
      return dispatchEnv(session, state, instruction);
    case 'ARG':
      return dispatchArg(session, state, instruction, scope.metaArgs);
    case 'LABEL':
      return dispatchLabel(session, state, instruction);
    case 'EXPOSE':
      return dispatchExpose(session, state, instruction);
    case 'VOLUME':
      return dispatchVolume(session, state, instruction);
    case 'USER':
      return dispatchUser(session, state, instruction);
    case 'CMD':
      scope.cmdSet = true;
      return dispatchCmd(session, state, instruction);
    case 'ENTRYPOINT':
      return dispatchEntrypoint(session, state, instruction, scope.cmdSet);
    case 'SHELL':
      return dispatchShell(session, state, instruction);
    case 'HEALTHCHECK':
      return dispatchHealthcheck(session, state, instruction);
    case 'STOPSIGNAL':
      return dispatchStopsignal(session, state, instruction);
    case 'ONBUILD':
      return dispatchOnbuild(session, state, instruction);
    case 'MAINTAINER':
      return dispatchMaintainer(session, state, instruction);
  }
}
