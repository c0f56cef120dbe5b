// BuildKit gives RUN an open-files limit of 1048576. Raising a hard limit needs CAP_SYS_RESOURCE,
// which root lacks in some sandboxes (CI containers, microVM agents): runc then fails every start
// with "error setting rlimit type 7: operation not permitted". So RUN gets as close as allowed.
import { readFile } from 'node:fs/promises';

/** BuildKit's RLIMIT_NOFILE for RUN, soft and hard. */
export const BUILDKIT_OPEN_FILES = 1_048_576;

const CAP_SYS_RESOURCE = 24n;

let probed: Promise<number> | undefined;

/** The open-files limit this process can give a container: BuildKit's, or its own hard limit when it may not raise it. */
export function openFilesLimit(): Promise<number> {
  probed ??= Promise.all([readFile('/proc/self/limits', 'utf8'), readFile('/proc/self/status', 'utf8')]).then(([limits, status]) => allowedOpenFiles(limits, status));
  return probed;
}

/** openFilesLimit() from the text of /proc/self/limits and /proc/self/status. */
export function allowedOpenFiles(limits: string, status: string): number {
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  const effective = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const mayRaise = effective !== undefined && ((BigInt(`0x${effective}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
  if (mayRaise || hard === undefined || hard === 'unlimited') return BUILDKIT_OPEN_FILES;
  return Math.min(Number(hard), BUILDKIT_OPEN_FILES);
}
