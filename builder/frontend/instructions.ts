// The typed Dockerfile model the builder dispatches, after BuildKit's
// frontend/dockerfile/instructions. Words are kept RAW (quotes, `$VAR`s, escapes as
// written): the builder expands them at dispatch time with expandInstruction()
// (expand.ts), using the stage's environment at that point.

/** How RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD were written. */
export type CommandLine =
  /** `CMD ["a", "b"]`: run as is, no shell */
  | { form: 'exec'; args: string[] }
  /** `CMD a b`: the text after the flags, to be run with the stage's SHELL */
  | { form: 'shell'; command: string };

/** What every instruction carries. */
export interface InstructionBase {
  /** 1-based line where the instruction starts */
  line: number;
  /** 1-based last line, heredoc bodies included */
  endLine: number;
  /**
   * The instruction as BuildKit records it (node.Original, trimmed): keyword,
   * flags and arguments, continuation lines joined, comment lines dropped,
   * heredoc bodies not included.
   */
  original: string;
}

/** A here-document attached to a RUN (`RUN <<EOF` … `EOF`). */
export interface Heredoc {
  /** the delimiter word with quotes removed: `<<'EOF'` → `EOF` */
  name: string;
  /** the body exactly as written, line endings included, tabs NOT stripped */
  content: string;
  /** `<<-EOF`: leading tabs are to be stripped from the body (and were from the delimiter line) */
  stripTabs: boolean;
  /** false when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`, `<<E"O"F`) */
  expand: boolean;
}

/** A heredoc used as a COPY/ADD source (`COPY <<EOF /etc/motd`): a file made from the Dockerfile. */
export interface InlineFile {
  /** the delimiter, used as the file name */
  name: string;
  /** the body, leading tabs already stripped for `<<-` */
  content: string;
  /**
   * `$VARS` in the body are still to be expanded (unquoted delimiter), with quotes
   * kept; expandInstruction expands them and sets this to false.
   */
  expand: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface ArgDefinition {
  name: string;
  /** absent for `ARG NAME`; '' for `ARG NAME=` */
  default?: string;
}

export interface FromInstruction extends InstructionBase {
  kind: 'FROM';
  /** the image reference or stage name, raw (expanded with the meta ARGs) */
  image: string;
  /** `AS name`, lower-cased */
  name?: string;
  /** `--platform=` value, raw */
  platform?: string;
}

export interface RunInstruction extends InstructionBase {
  kind: 'RUN';
  command: CommandLine;
  /** bodies of the heredocs named in the command, in order (see run-heredoc.ts) */
  heredocs: Heredoc[];
  /** each `--mount=` value, raw; BuildKit expands each field value when it parses them */
  mounts: string[];
  /** `--network=` (default | none | host) */
  network?: string;
  /** `--security=` (sandbox | insecure) */
  security?: string;
}

export interface CmdInstruction extends InstructionBase {
  kind: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstruction extends InstructionBase {
  kind: 'ENTRYPOINT';
  /** `ENTRYPOINT []` is `{ form: 'exec', args: [] }` and clears the entrypoint */
  command: CommandLine;
}

/** Fields COPY and ADD share. String flags are absent when not given; '' counts as unset, as in BuildKit. */
export interface CopyLikeBase extends InstructionBase {
  /** source paths (or URLs for ADD), raw, in order; heredoc sources are in `inlineFiles` */
  sources: string[];
  /** heredoc sources, in order */
  inlineFiles: InlineFile[];
  destination: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** `--exclude=` patterns (not expanded, as in BuildKit) */
  exclude: string[];
}

export interface CopyInstruction extends CopyLikeBase {
  kind: 'COPY';
  /** `--from=` stage name, stage index or image reference (never expanded) */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyLikeBase {
  kind: 'ADD';
  checksum?: string;
  keepGitDir: boolean;
  /** `--unpack[=bool]`; absent means the default (unpack local archives) */
  unpack?: boolean;
}

export interface EnvInstruction extends InstructionBase {
  kind: 'ENV';
  pairs: KeyValue[];
  /** written `ENV KEY value` rather than `ENV KEY=value` */
  legacyForm: boolean;
}

export interface LabelInstruction extends InstructionBase {
  kind: 'LABEL';
  pairs: KeyValue[];
  legacyForm: boolean;
}

export interface ArgInstruction extends InstructionBase {
  kind: 'ARG';
  args: ArgDefinition[];
}

export interface ExposeInstruction extends InstructionBase {
  kind: 'EXPOSE';
  /** raw words, sorted as BuildKit sorts them; each may expand to several ports */
  ports: string[];
}

export interface VolumeInstruction extends InstructionBase {
  kind: 'VOLUME';
  volumes: string[];
}

export interface UserInstruction extends InstructionBase {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstruction extends InstructionBase {
  kind: 'WORKDIR';
  path: string;
}

export interface ShellInstruction extends InstructionBase {
  kind: 'SHELL';
  shell: string[];
}

/** Docker's HealthConfig: durations in nanoseconds, 0 meaning "not set, use the default". */
export interface HealthCheck {
  type: 'CMD';
  command: CommandLine;
  /** Docker's `Test`: ["CMD", ...args] for exec form, ["CMD-SHELL", command] for shell form */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

export interface HealthcheckInstruction extends InstructionBase {
  kind: 'HEALTHCHECK';
  /** `HEALTHCHECK NONE` disables the base image's check (Docker's Test ["NONE"]) */
  check: { type: 'NONE' } | HealthCheck;
}

export interface StopsignalInstruction extends InstructionBase {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface OnbuildInstruction extends InstructionBase {
  kind: 'ONBUILD';
  /** the trigger parsed (validated now, though Docker only parses it when a child build runs it) */
  trigger: Instruction;
  /**
   * The text stored in the image config's OnBuild list: the instruction without
   * `ONBUILD`, each heredoc body and delimiter appended on new lines.
   */
  expression: string;
}

export interface MaintainerInstruction extends InstructionBase {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | StopsignalInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction['kind'];

/** A build stage: one FROM and what follows it up to the next FROM. */
export interface Stage {
  /** position among the stages, 0-based (what `COPY --from=0` refers to) */
  index: number;
  /** `AS name`, lower-cased */
  name?: string;
  /** the FROM word, raw: expand it with the meta ARGs (expandInstruction(stage.from, ...)) */
  baseImage: string;
  /** `--platform=` value, raw */
  platform?: string;
  /** line of the FROM */
  line: number;
  /** the FROM instruction itself */
  from: FromInstruction;
  /** every instruction after the FROM, in order */
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** `\` or, after `# escape=`` ` ``, a backtick; pass it to the expand functions */
  escapeToken: string;
  /** ARGs before the first FROM: visible to FROM lines, and to stages that re-declare them */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  /** `file:line: message` lines worth showing (empty continuation lines) */
  warnings: string[];
}
