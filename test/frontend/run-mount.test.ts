import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRunMount } from '../../builder/frontend/run-mount.js';

const vars: Record<string, string> = { DIR: '/root/.cache', ID: 'npm' };
const expand = (value: string) => value.replace(/\$(\w+)/g, (_, name: string) => vars[name] ?? '');
const parse = (spec: string) => parseRunMount(spec, expand, 'Dockerfile', 7);

describe('RUN --mount specs', () => {
  test('bind is the default type, read-only, from the context root', () => {
    assert.deepEqual(parse('target=/src'), { type: 'bind', target: '/src', source: '', readonly: true });
    assert.deepEqual(parse('type=bind,from=build,source=/out,dst=/in,rw'), { type: 'bind', target: '/in', source: '/out', from: 'build', readonly: false });
    assert.deepEqual(parse('type=bind,target=/x,readonly=false'), { type: 'bind', target: '/x', source: '', readonly: false });
  });

  test('cache: id defaults to the target, sharing to shared, writable, mode 0755', () => {
    assert.deepEqual(parse('type=cache,target=$DIR'), { type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'shared', readonly: false, source: '', mode: 0o755, uid: 0, gid: 0 });
    const locked = parse('type=cache,id=$ID,target=/c,sharing=locked,mode=0700,uid=1000,gid=1000');
    assert.deepEqual(locked, { type: 'cache', target: '/c', id: 'npm', sharing: 'locked', readonly: false, source: '', mode: 0o700, uid: 1000, gid: 1000 });
  });

  test('secret: target defaults to /run/secrets/ID, id to the target name; env= alone mounts no file', () => {
    assert.deepEqual(parse('type=secret,id=token'), { type: 'secret', id: 'token', target: '/run/secrets/token', required: false, mode: 0o400, uid: 0, gid: 0 });
    assert.deepEqual(parse('type=secret,target=/etc/key,required'), { type: 'secret', id: 'key', target: '/etc/key', required: true, mode: 0o400, uid: 0, gid: 0 });
    assert.deepEqual(parse('type=secret,id=aws,env=AWS_KEY'), { type: 'secret', id: 'aws', env: 'AWS_KEY', required: false, mode: 0o400, uid: 0, gid: 0 });
  });

  test('tmpfs with a size', () => {
    assert.deepEqual(parse('type=tmpfs,target=/tmp,size=64m'), { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 });
  });

  test('CSV quoting keeps commas inside a value', () => {
    assert.deepEqual(parse('type=bind,"source=a,b",target=/t'), { type: 'bind', target: '/t', source: 'a,b', readonly: true });
  });

  test('mistakes are one error naming the line', () => {
    const cases: [string, RegExp][] = [
      ['type=volume,target=/x', /unsupported mount type "volume"/],
      ['type=cache', /mount destination \(target=\) is not set/],
      ['type=bind,target=/x,mode=0700', /unexpected key 'mode' for mount type 'bind'/],
      ['type=cache,target=/x,sharing=sometimes', /invalid sharing "sometimes"/],
      ['type=secret', /needs id= or target=/],
      ['target=/x,colour=red', /unexpected key 'colour'/],
      ['type=ssh', /ssh mounts are not supported/],
      ['type=bind,target=/x,ro=maybe', /invalid boolean "maybe"/],
    ];
    for (const [spec, message] of cases) assert.throws(() => parse(spec), (error: Error) => /^Dockerfile:7: /.test(error.message) && message.test(error.message), spec);
  });
});
