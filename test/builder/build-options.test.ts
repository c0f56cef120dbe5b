import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { BuildUsageError, parseBuildOptions } from '../../builder/build-options.js';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseBuildOptions(args, env)!;

describe('wharf build options', () => {
  test('defaults: host network, runc, no secrets, no registry cache', () => {
    const options = parse(['.']);
    assert.equal(options.network, 'host');
    assert.equal(options.runtime, 'runc');
    assert.deepEqual(options.secrets, []);
    assert.deepEqual(options.cacheTo, []);
    assert.deepEqual(options.cacheFrom, []);
    assert.equal(options.dockerfile, resolve('Dockerfile'));
  });

  test('--network, --runtime', () => {
    const options = parse(['--network', 'none', '--runtime', 'crun', 'ctx']);
    assert.equal(options.network, 'none');
    assert.equal(options.runtime, 'crun');
    assert.throws(() => parse(['--network', 'bridge', '.']), (error: Error) => error instanceof BuildUsageError && /--network must be host or none/.test(error.message));
  });

  test('--secret from a file, an environment variable, or a bare id', () => {
    const options = parse(['--secret', 'id=npm,src=token.txt', '--secret', 'id=aws,env=AWS_KEY', '--secret', 'id=TOKEN', '--secret', 'id=file-named', '.'], { TOKEN: 'x' });
    assert.deepEqual(options.secrets, [
      { id: 'npm', file: resolve('token.txt') },
      { id: 'aws', env: 'AWS_KEY' },
      { id: 'TOKEN', env: 'TOKEN' },
      { id: 'file-named', file: resolve('file-named') },
    ]);
    assert.throws(() => parse(['--secret', 'src=a', '.']), /needs id=ID/);
    assert.throws(() => parse(['--secret', 'id=a,src=f,env=V', '.']), /not both/);
  });

  test('--insecure-registry and --registry-ca repeat; CA files resolve against the working directory', () => {
    const options = parse(['--insecure-registry', 'reg.lan:5000', '--registry-ca', 'certs/ca.pem', '--registry-ca', '/etc/ssl/corp.pem', '.']);
    assert.deepEqual(options.insecureRegistries, ['reg.lan:5000']);
    assert.deepEqual(options.registryCas, [resolve('certs/ca.pem'), '/etc/ssl/corp.pem']);
    assert.deepEqual(parse(['.']).registryCas, []);
  });

  test('--cache-to and --cache-from take registry references, mode min by default', () => {
    const options = parse(['--cache-to', 'type=registry,ref=localhost:5000/cache:main,mode=max', '--cache-from', 'type=registry,ref=localhost:5000/cache:main', '.']);
    assert.deepEqual(options.cacheTo, [{ ref: 'localhost:5000/cache:main', mode: 'max' }]);
    assert.deepEqual(options.cacheFrom, [{ ref: 'localhost:5000/cache:main', mode: 'min' }]);
    assert.throws(() => parse(['--cache-to', 'type=local,dest=x', '.']), /only type=registry/);
    assert.throws(() => parse(['--cache-to', 'type=registry', '.']), /needs ref=/);
    assert.throws(() => parse(['--cache-to', 'type=registry,ref=r,mode=all', '.']), /mode must be min or max/);
    assert.throws(() => parse(['--cache-from', 'type=registry,ref=Host:5000/UPPER:x', '.']), /--cache-from .*invalid image reference/);
  });
});
