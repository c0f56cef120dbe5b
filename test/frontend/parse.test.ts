import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseGoDuration } from '../../builder/frontend/duration.js';
import { extractFlags } from '../../builder/frontend/flags.js';
import type { RunInstruction } from '../../builder/frontend/instructions.js';
import { heredocsFromLine, parseHeredocWord } from '../../builder/frontend/node-parser.js';
import { parseDockerfile } from '../../builder/frontend/parse.js';
import { runHeredocPlan } from '../../builder/frontend/run-heredoc.js';

function runs(text: string): RunInstruction[] {
  return parseDockerfile(`FROM a\n${text}`, 'Dockerfile').stages[0]!.instructions.filter((i): i is RunInstruction => i.kind === 'RUN');
}

describe('heredoc openers', () => {
  test('delimiter spellings that name EOF', () => {
    for (const word of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
      assert.equal(parseHeredocWord(word)?.name, 'EOF', word);
    }
  });

  test('unbalanced quotes are errors', () => {
    for (const word of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) assert.throws(() => parseHeredocWord(word), word);
  });

  test('words that are not heredocs', () => {
    for (const word of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) assert.equal(parseHeredocWord(word), undefined, word);
  });

  test('any quoting of the delimiter turns expansion off; escaped quotes do not', () => {
    assert.deepEqual(parseHeredocWord("<<eo'f'"), { name: 'eof', chomp: false, expand: false, fileDescriptor: 0 });
    assert.deepEqual(parseHeredocWord("<<eo\\'f"), { name: "eo'f", chomp: false, expand: true, fileDescriptor: 0 });
    assert.deepEqual(parseHeredocWord("<<'e'o\\'f"), { name: "eo'f", chomp: false, expand: false, fileDescriptor: 0 });
    assert.deepEqual(parseHeredocWord("<<'one two'"), { name: 'one two', chomp: false, expand: false, fileDescriptor: 0 });
    assert.deepEqual(parseHeredocWord('<<$EOF'), { name: '$EOF', chomp: false, expand: true, fileDescriptor: 0 });
    assert.deepEqual(parseHeredocWord('3<<-X'), { name: 'X', chomp: true, expand: true, fileDescriptor: 3 });
  });

  test('found on an instruction line, in order, outside quotes', () => {
    const names = (line: string): string[] => heredocsFromLine(line).map((h) => h.name);
    assert.deepEqual(names('RUN <<EOF <<EOF2'), ['EOF', 'EOF2']);
    assert.deepEqual(names('RUN << -EOF'), ['-EOF']);
    assert.deepEqual(names('RUN <<  EOF  > foo'), ['EOF']);
    assert.deepEqual(names('RUN 4<<EOF'), ['EOF']);
    assert.deepEqual(names("RUN '<<EOF'"), []);
    assert.deepEqual(names('RUN "<<EOF"'), []);
    assert.deepEqual(names("RUN 'unterminated <<EOF"), []);
  });
});

describe('heredoc bodies', () => {
  test('are read raw: comments, blank lines and leading tabs kept', () => {
    const [run] = runs('RUN <<-EOF\n\t# comment\n\n\techo $X \\\n\tEOF\n');
    assert.deepEqual(run!.heredocs, [{ name: 'EOF', content: '\t# comment\n\n\techo $X \\\n', stripTabs: true, expand: true }]);
  });

  test('a terminator must match exactly (tabs only stripped for <<-)', () => {
    const [run] = runs('RUN <<EOF\n  EOF\n\tEOF\nEOF \nEOF\n');
    assert.equal(run!.heredocs[0]!.content, '  EOF\n\tEOF\nEOF \n');
  });

  test('several heredocs are read one after the other', () => {
    const [run] = runs('RUN <<X <<Y\nY\nX\nX\nY\n');
    assert.deepEqual(run!.heredocs.map((h) => [h.name, h.content]), [['X', 'Y\n'], ['Y', 'X\n']]);
  });

  test('are not looked for in JSON form or other instructions', () => {
    const [run] = runs('RUN ["<<EOF"]\n');
    assert.equal(run!.heredocs.length, 0);
    // USER takes no heredoc, so the next line is an instruction of its own
    assert.throws(() => parseDockerfile('FROM a\nUSER <<INVALID\nINVALID\n', 'Dockerfile'), { message: 'Dockerfile:3: unknown instruction: INVALID' });
  });
});

describe('runHeredocPlan (BuildKit dispatchRun)', () => {
  test('no heredoc: the command as written', () => {
    const [run] = runs('RUN make\n');
    assert.deepEqual(runHeredocPlan(run!), { command: { form: 'shell', command: 'make' } });
  });

  test('a lone heredoc: its body is the shell command', () => {
    const [run] = runs('RUN <<-EOF\n\tapk add curl\n\tEOF\n');
    assert.deepEqual(runHeredocPlan(run!), { command: { form: 'shell', command: 'apk add curl\n' } });
  });

  test('a lone heredoc starting with #!: an executable file in /dev/pipes', () => {
    const [run] = runs('RUN <<script.py\n#!/usr/bin/env python3\nprint(1)\nscript.py\n');
    assert.deepEqual(runHeredocPlan(run!), {
      command: { form: 'shell', command: '/dev/pipes/script.py' },
      script: { path: '/dev/pipes/script.py', content: '#!/usr/bin/env python3\nprint(1)\n' },
    });
  });

  test('anything else: bodies appended to the command for the shell', () => {
    const [run] = runs("RUN cat <<'A' > /a && cat <<-B > /b\n$x\nA\n\ty\n\tB\n");
    assert.deepEqual(runHeredocPlan(run!), { command: { form: 'shell', command: "cat <<'A' > /a && cat <<-B > /b\n$x\nA\n\ty\nB" } });
  });
});

describe('instruction flags', () => {
  test('stop at the first word not starting with --', () => {
    assert.deepEqual(extractFlags('--from=a --chown=b:c src dst'), { flags: ['--from=a', '--chown=b:c'], rest: 'src dst' });
  });

  test('quotes and backslashes are removed inside flags', () => {
    assert.deepEqual(extractFlags(`--chown="a b" --x='c'd --y=e\\ f rest`), { flags: ['--chown=a b', '--x=cd', '--y=e f'], rest: 'rest' });
  });

  test('a lone -- ends the flags', () => {
    assert.deepEqual(extractFlags('--link -- --not-a-flag dst'), { flags: ['--link'], rest: ' --not-a-flag dst' });
  });

  test('a single dash is an argument', () => {
    assert.deepEqual(extractFlags('-x y'), { flags: [], rest: '-x y' });
  });

  test('RUN collects every --mount', () => {
    const [run] = runs('RUN --mount=type=cache,target=/a --network=none --mount=type=secret,id=x --security=insecure make\n');
    assert.deepEqual(run!.mounts, ['type=cache,target=/a', 'type=secret,id=x']);
    assert.equal(run!.network, 'none');
    assert.equal(run!.security, 'insecure');
    assert.deepEqual(run!.command, { form: 'shell', command: 'make' });
  });
});

describe('Go durations', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['5s', 5e9],
    ['1.5s', 1.5e9],
    ['.5s', 5e8],
    ['1h2m3s', 3723e9],
    ['300ms', 3e8],
    ['10us', 1e4],
    ['10µs', 1e4],
    ['10μs', 1e4],
    ['7ns', 7],
    ['-1s', -1e9],
    ['+2m', 120e9],
    ['1.0000000001s', 1000000000],
  ];
  for (const [text, ns] of cases) {
    test(`${text} is ${ns}ns`, () => assert.equal(parseGoDuration(text), ns));
  }

  test('bad durations are rejected with Go\'s messages', () => {
    assert.throws(() => parseGoDuration(''), /time: invalid duration ""/);
    assert.throws(() => parseGoDuration('s'), /time: invalid duration "s"/);
    assert.throws(() => parseGoDuration('1'), /time: missing unit in duration "1"/);
    assert.throws(() => parseGoDuration('1x'), /time: unknown unit "x" in duration "1x"/);
    assert.throws(() => parseGoDuration('.s'), /time: invalid duration ".s"/);
    assert.throws(() => parseGoDuration('3000000h'), /time: invalid duration "3000000h"/);
  });
});

describe('stages', () => {
  test('are numbered, named in lower case, and keep their raw base and platform', () => {
    const df = parseDockerfile('ARG X\nFROM --platform=$P a:$X AS One\nFROM one\nRUN b\nFROM scratch AS LAST\n', 'Dockerfile');
    assert.deepEqual(
      df.stages.map((s) => [s.index, s.name, s.baseImage, s.platform, s.line, s.instructions.length]),
      [
        [0, 'one', 'a:$X', '$P', 2, 0],
        [1, undefined, 'one', undefined, 3, 1],
        [2, 'last', 'scratch', undefined, 5, 0],
      ],
    );
    assert.equal(df.metaArgs.length, 1);
  });

  test('ARGs after the first FROM belong to the stage', () => {
    const df = parseDockerfile('FROM a\nARG X\n', 'Dockerfile');
    assert.equal(df.metaArgs.length, 0);
    assert.equal(df.stages[0]!.instructions[0]!.kind, 'ARG');
  });
});
