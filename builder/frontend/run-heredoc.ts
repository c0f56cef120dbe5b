// What a RUN with heredocs actually runs, following BuildKit's dispatchRun (Linux).

import type { CommandLine, RunInstruction } from './instructions.js';
import { chompHeredocContent, parseHeredocWord } from './node-parser.js';

/** Where BuildKit mounts a `#!` heredoc script (read-only) to run it. */
export const HEREDOC_SCRIPT_DIR = '/dev/pipes';

export interface RunHeredocPlan {
  /** what to run; shell form means: with the stage's SHELL */
  command: CommandLine;
  /** a script file to provide (mode 0755) before running `command` */
  script?: { path: string; content: string };
}

/**
 * Resolves RUN heredocs the way BuildKit does:
 * - `RUN <<EOF` whose body starts with `#!`: the body becomes an executable file
 *   under /dev/pipes/ and the shell runs that file;
 * - `RUN <<EOF` otherwise: the body itself is the shell command (a "fake" heredoc,
 *   so shells without heredoc support work too);
 * - anything else (`RUN cat <<EOF > f`, several heredocs): the command line with each
 *   body and delimiter appended, for the shell to interpret.
 * Bodies are never expanded here: the shell does that at run time. Without heredocs,
 * the command is returned as is.
 */
export function runHeredocPlan(run: RunInstruction): RunHeredocPlan {
  const first = run.heredocs[0];
  if (!first || run.command.form !== 'shell') return { command: run.command };
  const line = run.command.command;
  if (parseHeredocWordOrUndefined(line)) {
    const data = first.stripTabs ? chompHeredocContent(first.content) : first.content;
    if (first.content.startsWith('#!')) {
      const path = `${HEREDOC_SCRIPT_DIR}/${first.name}`;
      return { command: { form: 'shell', command: path }, script: { path, content: data } };
    }
    return { command: { form: 'shell', command: data } };
  }
  let full = line;
  for (const h of run.heredocs) full += '\n' + h.content + h.name;
  return { command: { form: 'shell', command: full } };
}

function parseHeredocWordOrUndefined(word: string): ReturnType<typeof parseHeredocWord> {
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}
