import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DockerfileSyntaxError } from '../../builder/frontend/errors.js';
import { parseDockerfile, parseOnbuildTrigger } from '../../builder/frontend/parse.js';

function parseError(text: string, file = 'Dockerfile'): DockerfileSyntaxError {
  try {
    parseDockerfile(text, file);
  } catch (err) {
    assert.ok(err instanceof DockerfileSyntaxError, `expected a DockerfileSyntaxError, got ${String(err)}`);
    return err;
  }
  assert.fail(`parsed without error:\n${text}`);
}

// [what, Dockerfile, expected `Dockerfile:line: message`]
const cases: Array<[string, string, string]> = [
  ['unknown instruction', 'FROM a\nFOO bar\n', 'Dockerfile:2: unknown instruction: FOO'],
  ['unknown instruction written in lower case', 'FROM a\n\ncopyy a b\n', 'Dockerfile:3: unknown instruction: COPYY'],
  ['FROM without an image', 'FROM\n', 'Dockerfile:1: FROM requires either one or three arguments'],
  ['FROM x AS without a name', 'FROM x AS\n', 'Dockerfile:1: FROM requires either one or three arguments'],
  ['FROM with too many words', 'FROM x AS a b\n', 'Dockerfile:1: FROM requires either one or three arguments'],
  ['stage name starting with a digit', 'FROM x AS 1st\n', 'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
  ['stage name with a symbol', 'FROM x AS my$stage\n', 'Dockerfile:1: invalid name for build stage: "my$stage", name can\'t start with a number or contain symbols'],
  ['duplicate stage names (case-insensitive)', 'FROM a AS build\nRUN x\nFROM b AS Build\n', 'Dockerfile:3: duplicate stage name "build", first defined on line 1'],
  ['instruction before the first FROM', '# comment\nRUN make\nFROM a\n', 'Dockerfile:2: no build stage in current context: RUN before the first FROM (only ARG may come before it)'],
  ['ENV without a value', 'FROM a\nENV FOO\n', 'Dockerfile:2: ENV must have two arguments'],
  ['ENV without anything', 'FROM a\nENV\n', 'Dockerfile:2: ENV requires at least one argument'],
  ['ENV mixing forms', 'FROM a\nENV A=1 B\n', 'Dockerfile:2: Syntax error - can\'t find = in "B". Must be of the form: name=value'],
  ['ENV with an empty name', 'FROM a\nENV =x\n', 'Dockerfile:2: ENV names can not be blank'],
  ['LABEL without a value', 'FROM a\nLABEL key\n', 'Dockerfile:2: LABEL must have two arguments'],
  ['unknown COPY flag', 'FROM a\nCOPY --foo=bar a b\n', 'Dockerfile:2: Unknown flag: foo'],
  ['ADD does not take --from', 'FROM a\nADD --from=x a b\n', 'Dockerfile:2: Unknown flag: from'],
  ['string flag without a value', 'FROM a\nCOPY --from a b\n', 'Dockerfile:2: Missing a value on flag: from'],
  ['bool flag with an empty value', 'FROM a\nCOPY --link= a b\n', 'Dockerfile:2: Missing a value on flag: link'],
  ['bool flag with a non-bool value', 'FROM a\nCOPY --link=maybe a b\n', 'Dockerfile:2: Expecting boolean value for flag link, not: maybe'],
  ['repeated flag', 'FROM a\nCOPY --chown=a --chown=b a b\n', 'Dockerfile:2: Duplicate flag specified: chown'],
  ['flag on an instruction with no flags', 'FROM a\nENV --x=1 A=b\n', 'Dockerfile:2: Unknown flag: x'],
  ['unknown RUN flag', 'FROM a\nRUN --privileged make\n', 'Dockerfile:2: Unknown flag: privileged'],
  ['unknown FROM flag', 'FROM --arch=arm64 a\n', 'Dockerfile:1: Unknown flag: arch'],
  ['COPY with one argument', 'FROM a\nCOPY onlyone\n', 'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
  ['ADD with nothing', 'FROM a\nADD\n', 'Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined'],
  ['variable in COPY --from', 'FROM a\nCOPY --from=$STAGE /x /y\n', 'Dockerfile:2: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround'],
  ['heredoc as a COPY destination', 'FROM a\nCOPY a <<EOF\nx\nEOF\n', 'Dockerfile:2: COPY cannot accept a heredoc as a destination'],
  ['unterminated heredoc', 'FROM a\nRUN <<EOF\necho never ends\n', 'Dockerfile:2: unterminated heredoc EOF'],
  ['unterminated second heredoc', 'FROM a\nCOPY <<A <<B /x\na\nA\nb\n', 'Dockerfile:2: unterminated heredoc B'],
  ['invalid escape directive', '# escape=x\nFROM a\n', 'Dockerfile:1: invalid escape token \'x\' does not match ` or \\'],
  ['repeated escape directive', '# escape=`\n# ESCAPE=\\\nFROM a\n', 'Dockerfile:2: only one escape parser directive can be used'],
  ['empty file', '\n# only a comment\n\n', 'Dockerfile:3: file with no instructions'],
  ['no FROM at all', 'ARG A=1\nARG B\n', 'Dockerfile:2: dockerfile contains no stages to build'],
  ['JSON array of non-strings', 'FROM a\nCMD ["echo", 1]\n', 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only'],
  ['SHELL in shell form', 'FROM a\nSHELL /bin/bash -c\n', 'Dockerfile:2: SHELL requires the arguments to be in JSON form'],
  ['empty SHELL', 'FROM a\nSHELL []\n', 'Dockerfile:2: SHELL requires at least one argument'],
  ['HEALTHCHECK NONE with arguments', 'FROM a\nHEALTHCHECK NONE curl\n', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments'],
  ['HEALTHCHECK with an unknown type', 'FROM a\nHEALTHCHECK RUN curl\n', 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)'],
  ['HEALTHCHECK CMD without a command', 'FROM a\nHEALTHCHECK CMD\n', 'Dockerfile:2: Missing command after HEALTHCHECK CMD'],
  ['HEALTHCHECK without anything', 'FROM a\nHEALTHCHECK\n', 'Dockerfile:2: HEALTHCHECK requires at least one argument'],
  ['HEALTHCHECK interval under 1ms', 'FROM a\nHEALTHCHECK --interval=999us CMD true\n', 'Dockerfile:2: Interval "interval" cannot be less than 1ms'],
  ['HEALTHCHECK bad duration', 'FROM a\nHEALTHCHECK --timeout=5 CMD true\n', 'Dockerfile:2: time: missing unit in duration "5"'],
  ['HEALTHCHECK unknown unit', 'FROM a\nHEALTHCHECK --timeout=5d CMD true\n', 'Dockerfile:2: time: unknown unit "d" in duration "5d"'],
  ['HEALTHCHECK negative retries', 'FROM a\nHEALTHCHECK --retries=-1 CMD true\n', 'Dockerfile:2: --retries cannot be negative (-1)'],
  ['HEALTHCHECK non-numeric retries', 'FROM a\nHEALTHCHECK --retries=three CMD true\n', 'Dockerfile:2: strconv.ParseInt: parsing "three": invalid syntax'],
  ['ONBUILD ONBUILD', 'FROM a\nONBUILD ONBUILD RUN x\n', 'Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed'],
  ['ONBUILD FROM', 'FROM a\nONBUILD FROM b\n', 'Dockerfile:2: FROM isn\'t allowed as an ONBUILD trigger'],
  ['ONBUILD MAINTAINER', 'FROM a\nONBUILD maintainer me\n', 'Dockerfile:2: MAINTAINER isn\'t allowed as an ONBUILD trigger'],
  ['ONBUILD alone', 'FROM a\nONBUILD\n', 'Dockerfile:2: ONBUILD requires at least one argument'],
  ['ONBUILD with a bad trigger', 'FROM a\nONBUILD COPY onlyone\n', 'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
  ['ONBUILD with an unknown trigger', 'FROM a\nONBUILD BUILD it\n', 'Dockerfile:2: unknown instruction: BUILD'],
  ['USER without a user', 'FROM a\nUSER\n', 'Dockerfile:2: USER requires exactly one argument'],
  ['WORKDIR without a path', 'FROM a\nWORKDIR\n', 'Dockerfile:2: WORKDIR requires exactly one argument'],
  ['STOPSIGNAL without a signal', 'FROM a\nSTOPSIGNAL\n', 'Dockerfile:2: STOPSIGNAL requires exactly one argument'],
  ['MAINTAINER without a name', 'FROM a\nMAINTAINER\n', 'Dockerfile:2: MAINTAINER requires exactly one argument'],
  ['EXPOSE without ports', 'FROM a\nEXPOSE\n', 'Dockerfile:2: EXPOSE requires at least one argument'],
  ['VOLUME without paths', 'FROM a\nVOLUME []\n', 'Dockerfile:2: VOLUME requires at least one argument'],
  ['VOLUME with an empty path', 'FROM a\nVOLUME ["/a", " "]\n', 'Dockerfile:2: VOLUME specified can not be an empty string'],
  ['ARG without a name', 'FROM a\nARG\n', 'Dockerfile:2: ARG requires at least one argument'],
  ['ARG with an empty name', 'FROM a\nARG =1\n', 'Dockerfile:2: ARG names can not be blank'],
];

describe('syntax errors carry file:line and BuildKit\'s message', () => {
  for (const [what, text, expected] of cases) {
    test(what, () => {
      assert.equal(String(parseError(text)), expected);
    });
  }
});

describe('where errors point', () => {
  test('an error in a continued instruction points at its first line', () => {
    const err = parseError('FROM a\nRUN echo \\\n  hi\nCOPY \\\n  --bogus=1 \\\n  a b\n');
    assert.equal(err.line, 4);
    assert.equal(err.detail, 'Unknown flag: bogus');
  });

  test('lines after heredoc bodies are counted', () => {
    const err = parseError('FROM a\nRUN <<EOF\none\ntwo\nEOF\nNOPE\n');
    assert.equal(err.line, 6);
  });

  test('lines inside an escape-directive file are counted from the directive', () => {
    const err = parseError('# escape=`\n\nFROM a\nRUN x `\n  y\nBAD\n');
    assert.equal(String(err), 'Dockerfile:6: unknown instruction: BAD');
  });

  test('the file name is the one given', () => {
    const err = parseError('FROM a\nEXPOSE\n', 'docker/app.Dockerfile');
    assert.equal(String(err), 'docker/app.Dockerfile:2: EXPOSE requires at least one argument');
    assert.equal(err.message, 'docker/app.Dockerfile:2: EXPOSE requires at least one argument');
    assert.equal(err.file, 'docker/app.Dockerfile');
    assert.equal(err.name, 'DockerfileSyntaxError');
  });

  test('a syntax error is thrown before unknown instructions earlier in the file', () => {
    // BuildKit splits the whole file first, then types the instructions
    const err = parseError('FROM a\nNOPE\nRUN <<EOF\nnever closed\n');
    assert.equal(String(err), 'Dockerfile:3: unterminated heredoc EOF');
  });
});

describe('what Docker accepts, so must we', () => {
  test('HEALTHCHECK NONE ignores flags', () => {
    assert.doesNotThrow(() => parseDockerfile('FROM a\nHEALTHCHECK --interval=bogus NONE\n', 'Dockerfile'));
  });

  test('STOPSIGNAL ignores flags', () => {
    assert.doesNotThrow(() => parseDockerfile('FROM a\nSTOPSIGNAL --x SIGINT\n', 'Dockerfile'));
  });

  test('a quoted --from that expands to itself is fine', () => {
    assert.doesNotThrow(() => parseDockerfile('FROM a AS b\nFROM c\nCOPY --from=b /x /y\n', 'Dockerfile'));
  });

  test('parser directives after the first instruction are comments', () => {
    const df = parseDockerfile('FROM a\n# escape=`\nRUN a \\\n  b\n', 'Dockerfile');
    assert.equal(df.escapeToken, '\\');
    assert.equal(df.stages[0]!.instructions.length, 1);
  });

  test('unknown directives end the directive block', () => {
    const df = parseDockerfile('# foo=bar\n# escape=`\nFROM a\n', 'Dockerfile');
    assert.equal(df.escapeToken, '\\');
  });
});

describe('parseOnbuildTrigger', () => {
  test('parses one trigger from an image config', () => {
    const trigger = parseOnbuildTrigger('RUN <<EOF\necho hi\nEOF');
    assert.equal(trigger.kind, 'RUN');
    if (trigger.kind === 'RUN') assert.equal(trigger.heredocs[0]!.content, 'echo hi\n');
  });

  test('rejects several instructions', () => {
    assert.throws(() => parseOnbuildTrigger('RUN a\nRUN b'), /onbuild trigger should be a single expression/);
  });

  test('rejects FROM', () => {
    assert.throws(() => parseOnbuildTrigger('FROM scratch'), /FROM isn't allowed as an ONBUILD trigger/);
  });
});
