// Dockerfile text → typed instructions grouped into stages, after BuildKit's
// frontend/dockerfile/instructions/parse.go. Words stay raw: expansion happens at
// dispatch (expand.ts). Error messages are BuildKit's, prefixed with file:line.

import { parseGoDuration } from './duration.js';
import { DockerfileSyntaxError, ExpansionError, goQuote, InvalidInstructionError } from './errors.js';
import { InstructionFlags } from './flags.js';
import type {
  AddInstruction,
  ArgInstruction,
  CommandLine,
  CopyInstruction,
  CopyLikeBase,
  FromInstruction,
  HealthcheckInstruction,
  InlineFile,
  Instruction,
  InstructionBase,
  KeyValue,
  ParsedDockerfile,
  RunInstruction,
  Stage,
} from './instructions.js';
import { chompHeredocContent, parseHeredocWord, parseNodes, type DockerfileNode } from './node-parser.js';
import { lexWord } from './shell-lexer.js';

/** Parses a whole Dockerfile; `file` is only used in error messages. Throws DockerfileSyntaxError. */
export function parseDockerfile(text: string, file: string): ParsedDockerfile {
  const { escapeToken, nodes, warnings } = parseNodes(text, file);
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const stageLines = new Map<string, number>();

  for (const node of nodes) {
    const instruction = typeNode(node, file);
    if (instruction.kind === 'FROM') {
      if (instruction.name !== undefined) {
        const first = stageLines.get(instruction.name);
        if (first !== undefined) {
          throw new DockerfileSyntaxError(file, node.startLine, `duplicate stage name ${goQuote(instruction.name)}, first defined on line ${first}`);
        }
        stageLines.set(instruction.name, node.startLine);
      }
      stages.push({
        index: stages.length,
        ...(instruction.name !== undefined && { name: instruction.name }),
        baseImage: instruction.image,
        ...(instruction.platform !== undefined && { platform: instruction.platform }),
        line: instruction.line,
        from: instruction,
        instructions: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) {
      if (instruction.kind === 'ARG') {
        metaArgs.push(instruction);
        continue;
      }
      throw new DockerfileSyntaxError(file, node.startLine, `no build stage in current context: ${instruction.kind} before the first FROM (only ARG may come before it)`);
    }
    stage.instructions.push(instruction);
  }

  if (stages.length === 0) {
    throw new DockerfileSyntaxError(file, nodes.at(-1)!.endLine, 'dockerfile contains no stages to build');
  }
  return { escapeToken, metaArgs, stages, warnings };
}

/**
 * Parses one ONBUILD trigger as stored in an image config (`RUN make`), to run it
 * in a child build. Triggers use the default escape token, as in BuildKit.
 */
export function parseOnbuildTrigger(expression: string, file = 'ONBUILD trigger'): Instruction {
  const { nodes } = parseNodes(expression, file);
  if (nodes.length !== 1) throw new DockerfileSyntaxError(file, 1, 'onbuild trigger should be a single expression');
  const trigger = typeNode(nodes[0]!, file);
  if (trigger.kind === 'FROM' || trigger.kind === 'MAINTAINER' || trigger.kind === 'ONBUILD') {
    throw new DockerfileSyntaxError(file, 1, `${trigger.kind} isn't allowed as an ONBUILD trigger`);
  }
  return trigger;
}

function typeNode(node: DockerfileNode, file: string): Instruction {
  try {
    return parseInstruction(node);
  } catch (err) {
    if (err instanceof InvalidInstructionError || err instanceof ExpansionError) {
      throw new DockerfileSyntaxError(file, node.startLine, err.message);
    }
    throw err;
  }
}

function parseInstruction(node: DockerfileNode): Instruction {
  const base: InstructionBase = { line: node.startLine, endLine: node.endLine, original: node.original.trim() };
  const flags = new InstructionFlags(node.flags);
  const args = node.args;

  switch (node.command) {
    case 'from': {
      const name = stageName(args);
      flags.string('platform').parse();
      const platform = flags.value('platform');
      const from: FromInstruction = { kind: 'FROM', ...base, image: args[0]! };
      if (name !== undefined) from.name = name;
      if (platform !== undefined) from.platform = platform;
      return from;
    }

    case 'run': {
      flags.strings('mount').string('network').string('security').parse();
      const run: RunInstruction = {
        kind: 'RUN',
        ...base,
        command: commandLine(node),
        heredocs: node.heredocs.map((h) => ({ name: h.name, content: h.content, stripTabs: h.chomp, expand: h.expand })),
        mounts: flags.list('mount'),
      };
      const network = flags.value('network');
      const security = flags.value('security');
      if (network !== undefined) run.network = network;
      if (security !== undefined) run.security = security;
      return run;
    }

    case 'cmd':
      flags.parse();
      return { kind: 'CMD', ...base, command: commandLine(node) };

    case 'entrypoint':
      flags.parse();
      return { kind: 'ENTRYPOINT', ...base, command: commandLine(node) };

    case 'copy': {
      if (args.length < 2) throw new InvalidInstructionError(noDestination('COPY'));
      flags.strings('exclude').bool('parents').string('chown').string('from').string('chmod').bool('link').parse();
      const from = flags.value('from');
      if (from !== undefined) checkCopyFrom(from);
      const copy: CopyInstruction = { kind: 'COPY', ...base, ...copyLike(node, 'COPY', flags), parents: flags.isSet('parents') ?? false };
      if (from !== undefined) copy.from = from;
      return copy;
    }

    case 'add': {
      if (args.length < 2) throw new InvalidInstructionError(noDestination('ADD'));
      flags.strings('exclude').string('chown').string('chmod').bool('link').bool('keep-git-dir').string('checksum').bool('unpack').parse();
      const add: AddInstruction = { kind: 'ADD', ...base, ...copyLike(node, 'ADD', flags), keepGitDir: flags.isSet('keep-git-dir') ?? false };
      const checksum = flags.value('checksum');
      const unpack = flags.isSet('unpack');
      if (checksum !== undefined) add.checksum = checksum;
      if (unpack !== undefined) add.unpack = unpack;
      return add;
    }

    case 'env':
    case 'label': {
      flags.parse();
      const keyword = node.command.toUpperCase() as 'ENV' | 'LABEL';
      const pairs = keyValuePairs(args, keyword);
      return { kind: keyword, ...base, pairs, legacyForm: args[2] === '' };
    }

    case 'arg': {
      if (args.length < 1) throw new InvalidInstructionError('ARG requires at least one argument');
      flags.parse();
      return {
        kind: 'ARG',
        ...base,
        args: args.map((arg) => {
          const eq = arg.indexOf('=');
          if (eq < 0) return { name: arg };
          if (eq === 0) throw new InvalidInstructionError('ARG names can not be blank');
          return { name: arg.slice(0, eq), default: arg.slice(eq + 1) };
        }),
      };
    }

    case 'expose':
      if (args.length === 0) throw new InvalidInstructionError('EXPOSE requires at least one argument');
      flags.parse();
      // BuildKit sorts the raw words (Go's sort.Strings: byte order)
      return { kind: 'EXPOSE', ...base, ports: [...args].sort(compareBytes) };

    case 'volume': {
      if (args.length === 0) throw new InvalidInstructionError('VOLUME requires at least one argument');
      flags.parse();
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new InvalidInstructionError('VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', ...base, volumes };
    }

    case 'user':
      exactlyOne(args, 'USER');
      flags.parse();
      return { kind: 'USER', ...base, user: args[0]! };

    case 'workdir':
      exactlyOne(args, 'WORKDIR');
      flags.parse();
      return { kind: 'WORKDIR', ...base, path: args[0]! };

    case 'stopsignal':
      // BuildKit never checks STOPSIGNAL's flags
      exactlyOne(args, 'STOPSIGNAL');
      return { kind: 'STOPSIGNAL', ...base, signal: args[0]! };

    case 'maintainer':
      exactlyOne(args, 'MAINTAINER');
      flags.parse();
      return { kind: 'MAINTAINER', ...base, maintainer: args[0]! };

    case 'shell':
      flags.parse();
      if (args.length === 0) throw new InvalidInstructionError('SHELL requires at least one argument');
      if (!node.json) throw new InvalidInstructionError('SHELL requires the arguments to be in JSON form');
      return { kind: 'SHELL', ...base, shell: args };

    case 'healthcheck':
      return healthcheck(node, base, flags);

    case 'onbuild': {
      if (args.length === 0 || !node.child) throw new InvalidInstructionError('ONBUILD requires at least one argument');
      flags.parse();
      const triggerName = args[0]!.trim().toUpperCase();
      if (triggerName === 'ONBUILD') throw new InvalidInstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (triggerName === 'MAINTAINER' || triggerName === 'FROM') throw new InvalidInstructionError(`${triggerName} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, '');
      for (const h of node.heredocs) expression += '\n' + h.content + h.name;
      // the heredocs found on the line belong to the trigger
      const trigger = parseInstruction({ ...node.child, heredocs: node.heredocs, startLine: node.startLine, endLine: node.endLine });
      return { kind: 'ONBUILD', ...base, trigger, expression };
    }

    default:
      throw new InvalidInstructionError(`unknown instruction: ${node.keyword.toUpperCase()}`);
  }
}

function commandLine(node: DockerfileNode): CommandLine {
  if (node.json) return { form: 'exec', args: node.args };
  return { form: 'shell', command: node.args.join(' ') };
}

function copyLike(node: DockerfileNode, keyword: 'COPY' | 'ADD', flags: InstructionFlags): Omit<CopyLikeBase, keyof InstructionBase> {
  const args = node.args;
  const destination = args.at(-1)!;
  if (parseHeredocWordQuietly(destination)) throw new InvalidInstructionError(`${keyword} cannot accept a heredoc as a destination`);
  const bodies = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const inlineFiles: InlineFile[] = [];
  for (const src of args.slice(0, -1)) {
    const heredoc = parseHeredocWordQuietly(src);
    if (!heredoc) {
      sources.push(src);
      continue;
    }
    let content = bodies.get(heredoc.name)?.content ?? '';
    if (heredoc.chomp) content = chompHeredocContent(content);
    inlineFiles.push({ name: heredoc.name, content, expand: heredoc.expand });
  }
  const out: Omit<CopyLikeBase, keyof InstructionBase> = {
    sources,
    inlineFiles,
    destination,
    link: flags.isSet('link') ?? false,
    exclude: flags.list('exclude'),
  };
  const chown = flags.value('chown');
  const chmod = flags.value('chmod');
  if (chown !== undefined) out.chown = chown;
  if (chmod !== undefined) out.chmod = chmod;
  return out;
}

// BuildKit's MustParseHeredoc: a malformed heredoc word is just not a heredoc here.
function parseHeredocWordQuietly(word: string): ReturnType<typeof parseHeredocWord> {
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}

// Variables in --from are not supported: BuildKit rejects them rather than
// resolving a stage that depends on a build-time value.
function checkCopyFrom(from: string): void {
  const processed = lexWord(from, () => undefined, { escapeToken: '\\' }).result;
  if (processed !== from) {
    throw new InvalidInstructionError('variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround');
  }
}

function keyValuePairs(args: string[], keyword: 'ENV' | 'LABEL'): KeyValue[] {
  if (args.length === 0) throw new InvalidInstructionError(`${keyword} requires at least one argument`);
  if (args.length % 3 !== 0) throw new InvalidInstructionError(`Bad input to ${keyword}, too many arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new InvalidInstructionError(`${keyword} names can not be blank`);
    pairs.push({ key: args[i]!, value: args[i + 1]! });
  }
  return pairs;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function stageName(args: string[]): string | undefined {
  if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
    const name = args[2]!.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw new InvalidInstructionError(`invalid name for build stage: ${goQuote(args[2]!)}, name can't start with a number or contain symbols`);
    }
    return name;
  }
  if (args.length !== 1) throw new InvalidInstructionError('FROM requires either one or three arguments');
  return undefined;
}

function healthcheck(node: DockerfileNode, base: InstructionBase, flags: InstructionFlags): HealthcheckInstruction {
  const args = node.args;
  if (args.length === 0) throw new InvalidInstructionError('HEALTHCHECK requires at least one argument');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    // BuildKit does not look at flags for NONE
    if (rest.length !== 0) throw new InvalidInstructionError('HEALTHCHECK NONE takes no arguments');
    return { kind: 'HEALTHCHECK', ...base, check: { type: 'NONE' } };
  }
  flags.string('interval').string('timeout').string('start-period').string('start-interval').string('retries').parse();
  if (type !== 'CMD') throw new InvalidInstructionError(`Unknown type ${goQuote(type)} in HEALTHCHECK (try CMD)`);
  if (rest.length === 0) throw new InvalidInstructionError('Missing command after HEALTHCHECK CMD');
  const command: CommandLine = node.json ? { form: 'exec', args: rest } : { form: 'shell', command: rest.join(' ') };
  const test = command.form === 'exec' ? ['CMD', ...command.args] : ['CMD-SHELL', command.command];
  return {
    kind: 'HEALTHCHECK',
    ...base,
    check: {
      type: 'CMD',
      command,
      test,
      interval: interval(flags, 'interval'),
      timeout: interval(flags, 'timeout'),
      startPeriod: interval(flags, 'start-period'),
      startInterval: interval(flags, 'start-interval'),
      retries: retries(flags.value('retries')),
    },
  };
}

// A duration flag in nanoseconds: 0 when absent or zero, at least 1ms otherwise.
function interval(flags: InstructionFlags, name: string): number {
  const value = flags.value(name);
  if (value === undefined || value === '') return 0;
  let ns: number;
  try {
    ns = parseGoDuration(value);
  } catch (err) {
    throw new InvalidInstructionError((err as Error).message);
  }
  if (ns === 0) return 0;
  if (ns < 1_000_000) throw new InvalidInstructionError(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return ns;
}

function retries(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^[+-]?\d+$/.test(value)) throw new InvalidInstructionError(`strconv.ParseInt: parsing ${goQuote(value)}: invalid syntax`);
  const n = Number(value);
  if (n > 2 ** 31 - 1 || n < -(2 ** 31)) throw new InvalidInstructionError(`strconv.ParseInt: parsing ${goQuote(value)}: value out of range`);
  if (n < 0) throw new InvalidInstructionError(`--retries cannot be negative (${n})`);
  return n;
}

function exactlyOne(args: string[], keyword: string): void {
  if (args.length !== 1) throw new InvalidInstructionError(`${keyword} requires exactly one argument`);
}

function noDestination(keyword: string): string {
  return `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`;
}

function compareBytes(a: string, b: string): number {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return Buffer.compare(ba, bb);
}

