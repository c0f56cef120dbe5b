import type { Healthcheck } from '../../shared/image-config.js';
import { cacheKey } from '../cache/cache-key.js';
import { cachedStep, type BuildSession } from '../build-session.js';
import type {
  ArgInstruction,
  CmdInstruction,
  CommandLine,
  EntrypointInstruction,
  EnvInstruction,
  ExposeInstruction,
  HealthcheckInstruction,
  LabelInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
  ShellInstruction,
  StopsignalInstruction,
  UserInstruction,
  VolumeInstruction,
} from '../frontend/index.js';
import type { StageState } from '../stage-state.js';

/**
 * Instructions that change only the image config, one function each. Each records a history entry
 * (without a layer) worded as BuildKit words it, and extends the cache key with what it set.
 */
async function commitConfig(session: BuildSession, state: StageState, createdBy: string, options?: { history: boolean }): Promise<void> {
  await cachedStep(session, state, cacheKey(state.key, 'config', createdBy), createdBy, async () => ({}), options);
}

export async function dispatchEnv(session: BuildSession, state: StageState, instruction: EnvInstruction): Promise<void> {
  for (const { key, value } of instruction.pairs) state.setEnv(key, value);
  await commitConfig(session, state, `ENV ${instruction.pairs.map(({ key, value }) => `${key}=${value}`).join(' ')}`);
}

export async function dispatchLabel(session: BuildSession, state: StageState, instruction: LabelInstruction): Promise<void> {
  state.config.Labels = { ...state.config.Labels, ...Object.fromEntries(instruction.pairs.map(({ key, value }) => [key, value])) };
  await commitConfig(session, state, `LABEL ${instruction.pairs.map(({ key, value }) => `${key}=${value}`).join(' ')}`);
}

/** ARG declares build args in the stage: the --build-arg value wins over the default. */
export async function dispatchArg(
  session: BuildSession,
  state: StageState,
  instruction: ArgInstruction,
  inherited: ReadonlyMap<string, string>,
): Promise<void> {
  const declared: string[] = [];
  for (const { name, default: fallback } of instruction.args) {
    session.consumedBuildArgs.add(name);
    const value = session.options.buildArgs.get(name) ?? fallback ?? inherited.get(name);
    if (value !== undefined) {
      state.args.set(name, value);
      declared.push(`${name}=${value}`);
    } else {
      declared.push(name);
    }
  }
  await commitConfig(session, state, `ARG ${declared.join(' ')}`);
}

export async function dispatchExpose(session: BuildSession, state: StageState, instruction: ExposeInstruction): Promise<void> {
  const added = instruction.ports.map((port) => (port.includes('/') ? port.toLowerCase() : `${port}/tcp`));
  state.config.ExposedPorts = { ...state.config.ExposedPorts, ...Object.fromEntries(added.map((port) => [port, {}])) };
  // This instruction's ports, as current BuildKit's history lists them: EXPOSE [80/tcp 53/udp].
  await commitConfig(session, state, `EXPOSE [${added.join(' ')}]`);
}

export async function dispatchVolume(session: BuildSession, state: StageState, instruction: VolumeInstruction): Promise<void> {
  const volumes = { ...state.config.Volumes };
  for (const volume of instruction.volumes) volumes[volume] = {};
  state.config.Volumes = volumes;
  await commitConfig(session, state, `VOLUME [${instruction.volumes.join(' ')}]`);
}

export async function dispatchUser(session: BuildSession, state: StageState, instruction: UserInstruction): Promise<void> {
  state.config.User = instruction.user;
  await commitConfig(session, state, `USER ${instruction.user}`);
}

export async function dispatchCmd(session: BuildSession, state: StageState, instruction: CmdInstruction): Promise<void> {
  state.config.Cmd = commandArgs(state, instruction.command);
  await commitConfig(session, state, `CMD ${goQuoted(state.config.Cmd)}`);
}

/** ENTRYPOINT; it also drops a CMD inherited from the base image, as Docker does. */
export async function dispatchEntrypoint(
  session: BuildSession,
  state: StageState,
  instruction: EntrypointInstruction,
  cmdSetInStage: boolean,
): Promise<void> {
  state.config.Entrypoint = commandArgs(state, instruction.command);
  if (!cmdSetInStage) state.config.Cmd = null;
  await commitConfig(session, state, `ENTRYPOINT ${goQuoted(state.config.Entrypoint)}`);
}

export async function dispatchShell(session: BuildSession, state: StageState, instruction: ShellInstruction): Promise<void> {
  state.config.Shell = instruction.shell;
  await commitConfig(session, state, `SHELL [${instruction.shell.join(' ')}]`);
}

export async function dispatchHealthcheck(session: BuildSession, state: StageState, instruction: HealthcheckInstruction): Promise<void> {
  const { check } = instruction;
  let healthcheck: Healthcheck;
  if (check.type === 'NONE') {
    healthcheck = { Test: ['NONE'] };
  } else {
    healthcheck = {
      Test: check.test,
      ...(check.interval ? { Interval: check.interval } : {}),
      ...(check.timeout ? { Timeout: check.timeout } : {}),
      ...(check.startPeriod ? { StartPeriod: check.startPeriod } : {}),
      ...(check.startInterval ? { StartInterval: check.startInterval } : {}),
      ...(check.retries ? { Retries: check.retries } : {}),
    };
  }
  state.config.Healthcheck = healthcheck;
  await commitConfig(session, state, `HEALTHCHECK ${goStruct(healthcheck)}`);
}

export async function dispatchStopsignal(session: BuildSession, state: StageState, instruction: StopsignalInstruction): Promise<void> {
  state.config.StopSignal = instruction.signal;
  await commitConfig(session, state, `STOPSIGNAL ${instruction.signal}`);
}

/** ONBUILD records a trigger for builds that use this image as their base; BuildKit writes no history for it. */
export async function dispatchOnbuild(session: BuildSession, state: StageState, instruction: OnbuildInstruction): Promise<void> {
  state.config.OnBuild = [...(state.config.OnBuild ?? []), instruction.expression];
  await commitConfig(session, state, `ONBUILD ${instruction.expression}`, { history: false });
}

export async function dispatchMaintainer(session: BuildSession, state: StageState, instruction: MaintainerInstruction): Promise<void> {
  state.author = instruction.maintainer;
  await commitConfig(session, state, `MAINTAINER ${instruction.maintainer}`);
}

/** The argv a CMD/ENTRYPOINT runs: exec form as written, shell form through the stage's SHELL. */
export function commandArgs(state: StageState, command: CommandLine): string[] {
  if (command.form === 'exec') return command.args;
  return [...(state.config.Shell ?? ['/bin/sh', '-c']), command.command];
}

/** A health check as Go's %+v prints BuildKit's struct: {Test:[CMD-SHELL curl -f x] Interval:30s … Retries:3}. */
function goStruct(check: Healthcheck): string {
  const duration = (ns: number | undefined) => goDuration(ns ?? 0);
  return (
    `{Test:[${check.Test.join(' ')}] Interval:${duration(check.Interval)} Timeout:${duration(check.Timeout)} ` +
    `StartPeriod:${duration(check.StartPeriod)} StartInterval:${duration(check.StartInterval)} Retries:${check.Retries ?? 0}}`
  );
}

/** Nanoseconds as Go's time.Duration prints them: 0s, 1.5s, 2m30s, 1h0m0s, 250ms. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trimFraction(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trimFraction(ns / 1e6)}ms`;
  const hours = Math.floor(ns / 3.6e12);
  const minutes = Math.floor((ns % 3.6e12) / 6e10);
  const seconds = trimFraction((ns % 6e10) / 1e9);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimFraction(value: number): string {
  return String(Number(value.toFixed(9)));
}

/** Go's %q of a string slice, as BuildKit's history shows commands: ["/bin/sh" "-c" "echo hi"]. */
function goQuoted(values: readonly string[] | null | undefined): string {
  return `[${(values ?? []).map((value) => JSON.stringify(value)).join(' ')}]`;
}
