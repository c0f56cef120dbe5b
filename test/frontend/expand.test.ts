import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DockerfileSyntaxError, ExpansionError } from '../../builder/frontend/errors.js';
import {
  expandHeredocBody,
  expandInstruction,
  expandWord,
  expandWords,
  expandWordWithMatches,
  lookupFrom,
} from '../../builder/frontend/expand.js';
import { parseDockerfile } from '../../builder/frontend/parse.js';

const ENV = lookupFrom({ PWD: '/home', SHELL: 'bash', KOREAN: '한국어', NULL: '' });
const ERROR = Symbol('error');

// [word, expected ProcessWord result] — BuildKit's envVarTest semantics, env above.
const processWordCases: Array<[string, string | typeof ERROR]> = [
  // quotes
  ['hello', 'hello'],
  ["he'll'o", 'hello'],
  ["he'llo", ERROR],
  ["he\\'llo", "he'llo"],
  ["he\\\\'llo", ERROR],
  ['abc\\tdef', 'abctdef'],
  ['"abc\\tdef"', 'abc\\tdef'],
  ['"abc\\\\tdef"', 'abc\\tdef'],
  ["'abc\\tdef'", 'abc\\tdef'],
  ['hello\\', 'hello'],
  ['hello\\\\', 'hello\\'],
  ['"hello', ERROR],
  ['"hello\\"', ERROR],
  ['"hel\'lo"', "hel'lo"],
  ["'hello", ERROR],
  ["'hello\\'", 'hello\\'],
  ["'hello\\there'", 'hello\\there'],
  ['"\'\'"', "''"],
  ['\'"hello"\'', '"hello"'],
  // plain $NAME
  ['$.', '$.'],
  ['$1', ''],
  ['he$1x', 'hex'],
  ['he$.x', 'he$.x'],
  ['he$pwd.', 'he.'],
  ['he$PWD', 'he/home'],
  ['he\\$PWD', 'he$PWD'],
  ['he\\\\$PWD', 'he\\/home'],
  ['"he\\$PWD"', 'he$PWD'],
  ['"he\\\\$PWD"', 'he\\/home'],
  ["'he\\$PWD'", 'he\\$PWD'],
  ['"$PWD"', '/home'],
  ["'$PWD'", '$PWD'],
  ["'\\$PWD'", '\\$PWD'],
  ['"he\'$PWD\'"', "he'/home'"],
  ['$PWD$SHELL', '/homebash'],
  ['$PWD_x', ''],
  ['${PWD}_x', '/home_x'],
  ['$KOREAN', '한국어'],
  ['안녕$KOREAN', '안녕한국어'],
  ['안\'녕\'하세요', '안녕하세요'],
  // ${NAME}
  ['\\${}', '${}'],
  ['he\\${}xx', 'he${}xx'],
  ['${}', ERROR],
  ['he${}xx', ERROR],
  ['he${hi}xx', 'hexx'],
  ['he${PWD}', 'he/home'],
  ['he${.}', ERROR],
  ['he${PWD', ERROR],
  ['${{aaa}', ERROR],
  ['${aaa}}', '}'],
  ['${:}', ERROR],
  ['${:-bbb}', ERROR],
  ["'he${XX}'", 'he${XX}'],
  ['"he${PWD}"', 'he/home'],
  // ${NAME:-word} and ${NAME-word}
  ['he${XXX:-000}xx', 'he000xx'],
  ['he${PWD:-000}xx', 'he/homexx'],
  ['he${XXX:-$PWD}xx', 'he/homexx'],
  ['he${XXX:-${PWD:-yyy}}xx', 'he/homexx'],
  ['he${XXX:-${YYY:-yyy}}xx', 'heyyyxx'],
  ['${NULL:-def}', 'def'],
  ['${NULL-def}', ''],
  ['${UNSET-def}', 'def'],
  ['${aaa:-bbb}}', 'bbb}'],
  ['${aaa:-bbb', ERROR],
  ['${aaa:-bbb ${foo}', ERROR],
  ['${aaa:-bbb {foo}', 'bbb {foo'],
  ['${X:-"a b"}', 'a b'],
  ["${X:-'$PWD'}", '$PWD'],
  ['he${XXX:-\\$PWD:}xx', 'he$PWD:xx'],
  ['he${XXX:-\\${PWD}z}xx', 'he${PWDz}xx'],
  // ${NAME:+word} and ${NAME+word}
  ['he${XXX:+${PWD}}xx', 'hexx'],
  ['he${PWD:+${XXX}}xx', 'hexx'],
  ['he${PWD:+${SHELL}}xx', 'hebashxx'],
  ['he${XXX:+000}xx', 'hexx'],
  ['he${PWD:+000}xx', 'he000xx'],
  ['he${PWD:+${PWD}:}xx', 'he/home:xx'],
  ['${NULL:+set}', ''],
  ['${NULL+set}', 'set'],
  ['${:+bbb}', ERROR],
  // unsupported modifiers
  ['he${XXX:YYY}', ERROR],
  ['he${PWD:=000}xx', ERROR],
  ['${PWD=x}', ERROR],
  // ${NAME:?message} and ${NAME?message}
  ['${PWD:?no pwd}', '/home'],
  ['${UNSET:?no value}', ERROR],
  ['${NULL:?empty}', ERROR],
  ['${NULL?unset}', ''],
  ['${UNSET?}', ERROR],
  // pattern removal and substitution
  ['${PWD#/}', 'home'],
  ['${PWD%me}', '/ho'],
  ['${SHELL#*a}', 'sh'],
  ['${KOREAN%어}', '한국'],
  ['${SHELL/a/A}', 'bAsh'],
  ['${PWD//o/0}', '/h0me'],
];

describe('expandWord: BuildKit ProcessWord semantics', () => {
  for (const [word, expected] of processWordCases) {
    test(`${word} → ${expected === ERROR ? 'error' : JSON.stringify(expected)}`, () => {
      if (expected === ERROR) {
        assert.throws(() => expandWord(word, ENV), ExpansionError);
      } else {
        assert.equal(expandWord(word, ENV), expected);
      }
    });
  }
});

describe('expandWord: ${VAR?message} and ${VAR:?message}', () => {
  const set = lookupFrom({ VAR: 'plain', ARG: 'x' });
  const empty = lookupFrom({ VAR: '', ARG: 'x' });
  const unset = lookupFrom({ ARG: 'x' });

  test('the message is expanded and reported with the name', () => {
    assert.throws(() => expandWord('${VAR:?message here$ARG}', unset), /VAR: message herex/);
    assert.throws(() => expandWord('${VAR:?message here$ARG}', empty), /VAR: message herex/);
    assert.throws(() => expandWord('${VAR?message here$ARG}', unset), /VAR: message herex/);
  });

  test('without a message Docker says what was wrong', () => {
    assert.throws(() => expandWord('${VAR?}', unset), /VAR: is not allowed to be unset/);
    assert.throws(() => expandWord('${VAR:?}', empty), /VAR: is not allowed to be empty/);
  });

  test('set values pass through', () => {
    assert.equal(expandWord('${VAR:?message}', set), 'plain');
    assert.equal(expandWord('${VAR?message}', empty), '');
  });

  test('errors name the word, as BuildKit does', () => {
    assert.throws(() => expandWord('a${VAR?oops}', unset), { message: 'failed to process "a${VAR?oops}": VAR: oops' });
  });
});

describe('expandWord: pattern removal and substitution (BuildKit extensions)', () => {
  const cases: Array<[string, Record<string, string>, string | typeof ERROR]> = [
    ['${FOO#*x*y}', { FOO: 'xxyy' }, 'y'],
    ['${FOO#*}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO##*x}', { FOO: 'xxyy' }, 'yy'],
    ['${FOO#$BAR}', { FOO: 'xxyy', BAR: 'x' }, 'xyy'],
    ['${FOO#?\\?}', { FOO: '???y' }, '?y'],
    ['${FOO%%\\**}', { FOO: 'xx**' }, 'xx'],
    ['${FOO%%\\**\\*}', { FOO: 'a***yy*' }, 'a'],
    ['${FOO%x}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO%y}', { FOO: 'xxyy' }, 'xxy'],
    ['${FOO%%y*}', { FOO: 'xxyyxy' }, 'xx'],
    ['${FOO%y*}', { FOO: 'xxyyxy' }, 'xxyyx'],
    ['${FOO#()[]{\\}^$.\\*\\?|\\\\}', { FOO: '()[]{}^$.*?|\\x' }, 'x'],
    ['${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, '/foo.*/*.txt - /foo..*.txt'],
    ['${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, '/tmp/bar.txt - /bar.txt'],
    ['${FOO/$N/$R} - ${FOO//$N/$R}', { FOO: '/a/foo/b/c.txt', N: '/?/', R: '/' }, '/foo/b/c.txt - /foo/c.txt'],
    ['${FOO//\\//\\/}', { FOO: '/tmp/foo.txt' }, '\\/tmp\\/foo.txt'],
    ['${FOO/$BAR/ww}', { FOO: 'xxyy', BAR: '' }, 'wwxxyy'],
    ['${FOO///}', { FOO: 'xxyy' }, 'xxyy'],
    ['${FOO//ww}', { FOO: 'xxyy' }, ERROR],
    ['${FOO#\\x}', { FOO: 'xy' }, ERROR],
    ['v${TARGETVARIANT:+-${TARGETVARIANT}}.tar', { TARGETVARIANT: 'v7' }, 'v-v7.tar'],
  ];
  for (const [word, env, expected] of cases) {
    test(`${word} with ${JSON.stringify(env)}`, () => {
      if (expected === ERROR) assert.throws(() => expandWord(word, lookupFrom(env)), ExpansionError);
      else assert.equal(expandWord(word, lookupFrom(env)), expected);
    });
  }
});

describe('expandWord with the backtick escape token', () => {
  test('backtick escapes $, and backslash is an ordinary character', () => {
    assert.equal(expandWord('C:\\dir\\$PWD', ENV, '`'), 'C:\\dir\\/home');
    assert.equal(expandWord('`$PWD', ENV, '`'), '$PWD');
    assert.equal(expandWord('"a`"b"', ENV, '`'), 'a"b');
    assert.equal(expandWord('``', ENV, '`'), '`');
  });
});

describe('expandWords: BuildKit ProcessWords field splitting', () => {
  const env = lookupFrom({ PORTS: '80 443/udp', EMPTY: '', SPACED: '  a  b  ' });
  const cases: Array<[string, string[]]> = [
    ['80', ['80']],
    ['80 443', ['80', '443']],
    ['$PORTS', ['80', '443/udp']],
    ['"$PORTS"', ['80 443/udp']],
    ['x$SPACED', ['x', 'a', 'b']],
    ['a\\ b', ['a b']],
    ["'a b' c", ['a b', 'c']],
    ['$EMPTY', []],
    ['""', []],
    ['  a   b  ', ['a', 'b']],
    ['${NOPE:-8080 9090}', ['8080', '9090']],
  ];
  for (const [word, expected] of cases) {
    test(`${word} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(expandWords(word, env), expected);
    });
  }
});

describe('expandWordWithMatches', () => {
  test('reports the variables found and not found', () => {
    const r = expandWordWithMatches('${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', lookupFrom({ FOO: 'xxx', BAR: '' }));
    assert.equal(r.result, 'xxx  ccc');
    assert.deepEqual([...r.matched].sort(), ['BAR', 'FOO']);
    assert.deepEqual([...r.unmatched], ['BAZ']);
  });
});

describe('expandHeredocBody', () => {
  test('substitutes variables but keeps quotes', () => {
    assert.equal(expandHeredocBody('echo "$PWD" \'$SHELL\'\n', ENV), 'echo "/home" \'bash\'\n');
  });
  test('backslash escapes a dollar', () => {
    assert.equal(expandHeredocBody('cost: \\$5 in $PWD\n', ENV), 'cost: $5 in /home\n');
  });
});

describe('expandInstruction', () => {
  const df = parseDockerfile(
    [
      'ARG TAG=1',
      'FROM --platform=$BUILDPLATFORM busybox:${TAG} AS base',
      'ENV A=$PWD B="$SHELL x" $SHELL=v',
      'LABEL "k $SHELL"="v $PWD"',
      'ARG N=$PWD',
      'COPY --chown=$SHELL:$SHELL --chmod=${MODE:-644} src/$SHELL ["not", "json"] /dst/$PWD/',
      'ADD --checksum=sha256:$SUM https://example.com/$SHELL.tgz /opt/',
      'COPY <<EOF <<"RAW" /etc/',
      'home is $PWD',
      'EOF',
      'home is $PWD',
      'RAW',
      'EXPOSE $PORTS 22',
      'VOLUME $PWD/data ["/x"]',
      'USER ${SHELL}:1000',
      'WORKDIR $PWD/app',
      'STOPSIGNAL SIG$SIG',
      'RUN echo $PWD',
      'CMD echo $PWD',
      'ONBUILD RUN echo $PWD',
      '',
    ].join('\n'),
    'Dockerfile',
  );
  const env = lookupFrom({ PWD: '/home', SHELL: 'bash', PORTS: '80 443', SUM: 'abc', SIG: 'TERM', BUILDPLATFORM: 'linux/amd64', TAG: '1.36' });
  const [, ...rest] = [undefined, ...df.stages[0]!.instructions];
  const expanded = rest.map((i) => expandInstruction(i!, env));

  test('FROM expands the image and platform (with whatever lookup the caller gives: the meta ARGs)', () => {
    const from = expandInstruction(df.stages[0]!.from, env);
    assert.equal(from.image, 'busybox:1.36');
    assert.equal(from.platform, 'linux/amd64');
    assert.equal(from.name, 'base');
  });

  test('ENV expands keys and values, all against the env before the instruction', () => {
    assert.deepEqual(expanded[0], { ...df.stages[0]!.instructions[0], pairs: [{ key: 'A', value: '/home' }, { key: 'B', value: 'bash x' }, { key: 'bash', value: 'v' }] });
  });

  test('LABEL expands keys and values', () => {
    assert.deepEqual((expanded[1] as { pairs: unknown }).pairs, [{ key: 'k bash', value: 'v /home' }]);
  });

  test('ARG expands its default', () => {
    assert.deepEqual((expanded[2] as { args: unknown }).args, [{ name: 'N', default: '/home' }]);
  });

  test('COPY expands sources, destination, --chown and --chmod', () => {
    const copy = expanded[3]!;
    assert.equal(copy.kind, 'COPY');
    if (copy.kind !== 'COPY') return;
    // not JSON (it does not start the arguments), so split on blanks, then quotes go
    assert.deepEqual(copy.sources, ['src/bash', '[not,', 'json]']);
    assert.equal(copy.destination, '/dst//home/');
    assert.equal(copy.chown, 'bash:bash');
    assert.equal(copy.chmod, '644');
  });

  test('ADD also expands --checksum', () => {
    const add = expanded[4]!;
    if (add.kind !== 'ADD') return assert.fail('not ADD');
    assert.equal(add.checksum, 'sha256:abc');
    assert.deepEqual(add.sources, ['https://example.com/bash.tgz']);
  });

  test('COPY heredoc bodies expand only when the delimiter is unquoted', () => {
    const copy = expanded[5]!;
    if (copy.kind !== 'COPY') return assert.fail('not COPY');
    assert.deepEqual(copy.inlineFiles, [
      { name: 'EOF', content: 'home is /home\n', expand: false },
      { name: 'RAW', content: 'home is $PWD\n', expand: false },
    ]);
  });

  test('expanding twice changes nothing more (bodies are marked as expanded)', () => {
    const once = parseDockerfile('FROM a\nCOPY <<EOF /f\ncost \\$5 $PWD\nEOF\n', 'Dockerfile').stages[0]!.instructions[0]!;
    const first = expandInstruction(once, lookupFrom({ PWD: '/home', '5': 'five' }));
    const second = expandInstruction(first, lookupFrom({ PWD: '/home', '5': 'five' }));
    assert.ok(first.kind === 'COPY' && second.kind === 'COPY');
    assert.equal(first.inlineFiles[0]!.content, 'cost $5 /home\n');
    assert.equal(second.inlineFiles[0]!.content, 'cost $5 /home\n');
  });

  test('EXPOSE splits expanded words into ports', () => {
    // the raw words were sorted at parse time ("$PORTS" < "22"), as BuildKit does
    assert.deepEqual((expanded[6] as { ports: unknown }).ports, ['80', '443', '22']);
  });

  test('VOLUME, USER, WORKDIR, STOPSIGNAL expand their words', () => {
    assert.deepEqual((expanded[7] as { volumes: unknown }).volumes, ['/home/data', '[/x]']);
    assert.equal((expanded[8] as { user: string }).user, 'bash:1000');
    assert.equal((expanded[9] as { path: string }).path, '/home/app');
    assert.equal((expanded[10] as { signal: string }).signal, 'SIGTERM');
  });

  test('RUN, CMD and ONBUILD are left for the shell', () => {
    assert.deepEqual(expanded.slice(11), df.stages[0]!.instructions.slice(11));
  });

  test('absent flags stay absent', () => {
    const plain = parseDockerfile('FROM a\nCOPY x /y\n', 'Dockerfile').stages[0]!.instructions[0]!;
    const copy = expandInstruction(plain, env);
    assert.ok(!('chown' in copy) && !('chmod' in copy));
  });

  test('an expansion error points at the instruction', () => {
    const bad = parseDockerfile('FROM a\n\nWORKDIR ${DIR:?set DIR}\n', 'build/Dockerfile').stages[0]!.instructions[0]!;
    assert.throws(
      () => expandInstruction(bad, env, '\\', 'build/Dockerfile'),
      (err: unknown) => err instanceof DockerfileSyntaxError && String(err) === 'build/Dockerfile:3: failed to process "${DIR:?set DIR}": DIR: set DIR',
    );
  });
});
