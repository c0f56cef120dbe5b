// resolveServeConfig and parseDuration without a process: where each setting comes from, and
// how a bad one is named.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, envName, parseDuration, resolveServeConfig, SERVE_SETTINGS } from '../../registry/config.js';

const SECOND = 1000;
const HOUR = 3600 * SECOND;

let dir: string | undefined;
/** Writes a YAML file in a directory removed when the tests end. */
async function yamlFile(name: string, text: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'wharf-config-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
test.after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Asserts resolveServeConfig throws a ConfigError whose message starts with `source` and matches `pattern`. */
function assertConfigError(run: () => unknown, source: string, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(error.message.startsWith(source), `"${error.message}" should start with ${source}`);
    if (pattern) assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), `one line: ${JSON.stringify(error.message)}`);
    return true;
  });
}

test('parseDuration reads single and mixed units into milliseconds', () => {
  const cases: [string, number][] = [
    ['0s', 0],
    ['250ms', 250],
    ['1s', SECOND],
    ['90s', 90 * SECOND],
    ['1.5s', 1500],
    ['30m', 30 * 60 * SECOND],
    ['168h', 168 * HOUR],
    ['7d', 7 * 24 * HOUR],
    ['1h30m', 1.5 * HOUR],
    ['1d2h3m4s5ms', 24 * HOUR + 2 * HOUR + 3 * 60 * SECOND + 4 * SECOND + 5],
    ['0.5h', HOUR / 2],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text, 'test'), ms, text);
});

test('parseDuration refuses anything else, naming where the value came from', () => {
  for (const text of ['', '5', 's', '5x', '5 s', ' 5s', '5s ', '1h 30m', '-1s', '+1s', '.5s', '5.s', '1.2.3s', '5S', '5sec', '1e3ms', 'forever', '5s1']) {
    assertConfigError(() => parseDuration(text, '--upload-purge-age'), '--upload-purge-age: ', new RegExp(`"${text.replace(/[.+]/g, '\\$&')}" is not a duration`));
  }
});

test('resolveServeConfig: the defaults', () => {
  const config = resolveServeConfig({}, {});
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.port, 5000);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.uploadPurgeAgeMs, 168 * HOUR);
  assert.equal(config.uploadPurgeIntervalMs, HOUR);
  assert.equal(config.shutdownTimeoutMs, 30 * SECOND);
  assert.equal(config.tls, undefined, 'plain HTTP unless told');
  assert.equal(config.headerTimeoutMs, 30 * SECOND);
  assert.equal(config.idleTimeoutMs, 60 * SECOND);
  assert.match(config.storage, /[/\\]wharf[/\\]registry$/);
  assert.equal(config.searchIndex, join(config.storage, 'search-index.db'));
});

test('resolveServeConfig: the search index follows the storage unless told', () => {
  assert.equal(resolveServeConfig({ storage: '/srv/registry' }, {}).searchIndex, '/srv/registry/search-index.db');
  assert.equal(resolveServeConfig({ storage: 'file:///srv/registry' }, {}).searchIndex, '/srv/registry/search-index.db');
  assert.equal(resolveServeConfig({ storage: 'memory://' }, {}).searchIndex, 'memory://');
  assert.equal(resolveServeConfig({ storage: '/srv/registry', 'search-index': 'memory://' }, {}).searchIndex, 'memory://');
  assert.equal(resolveServeConfig({ storage: '/srv/registry', 'search-index': 'file:///var/index.db' }, {}).searchIndex, '/var/index.db');
  assert.equal(resolveServeConfig({ storage: '/srv/registry' }, { WHARF_SEARCH_INDEX: '/var/cache/index.db' }).searchIndex, '/var/cache/index.db');
  assertConfigError(() => resolveServeConfig({ 'search-index': '' }, {}), '--search-index: ');
});

test('resolveServeConfig: every setting has a flag, a WHARF_ variable and a YAML key, in that order of precedence', async () => {
  const values: Record<string, [string, string, string]> = {
    // [file, env, flag]
    addr: ['127.0.0.1:1001', '127.0.0.1:1002', '127.0.0.1:1003'],
    storage: ['/from/file', '/from/env', '/from/flag'],
    'search-index': ['/file.db', '/env.db', '/flag.db'],
    'log-level': ['error', 'debug', 'trace'],
    'upload-purge-age': ['1h', '2h', '3h'],
    'upload-purge-interval': ['1m', '2m', '3m'],
    'shutdown-timeout': ['1s', '2s', '3s'],
    'tls-cert': ['/file.crt', '/env.crt', '/flag.crt'],
    'tls-key': ['/file.key', '/env.key', '/flag.key'],
    'header-timeout': ['4s', '5s', '6s'],
    'idle-timeout': ['7s', '8s', '9s'],
    auth: ['basic', 'token', 'basic'],
    htpasswd: ['/file.htpasswd', '/env.htpasswd', '/flag.htpasswd'],
    access: ['/file.yaml', '/env.yaml', '/flag.yaml'],
    'token-key': ['/file.pem', '/env.pem', '/flag.pem'],
    'token-ttl': ['1m', '2m', '3m'],
    service: ['file-service', 'env-service', 'flag-service'],
    realm: ['https://file/auth', 'https://env/auth', 'https://flag/auth'],
  };
  assert.deepEqual(Object.keys(values).sort(), SERVE_SETTINGS.map((s) => s.key).sort(), 'this test covers every setting');
  const file = await yamlFile('all.yaml', Object.entries(values).map(([key, [v]]) => `${key}: "${v}"`).join('\n'));
  const env = Object.fromEntries(Object.entries(values).map(([key, [, v]]) => [envName(key), v]));
  const flags = Object.fromEntries(Object.entries(values).map(([key, [, , v]]) => [key, v]));
  const pick = (config: ReturnType<typeof resolveServeConfig>) => [
    `${config.host}:${config.port}`,
    config.storage,
    config.searchIndex,
    config.logLevel,
    config.uploadPurgeAgeMs,
    config.uploadPurgeIntervalMs,
    config.shutdownTimeoutMs,
    config.tls?.certFile,
    config.tls?.keyFile,
    config.headerTimeoutMs,
    config.idleTimeoutMs,
    [config.auth.mode, config.auth.htpasswd, config.auth.access, config.auth.tokenKey.file, config.auth.tokenTtlMs / 60_000, config.auth.service, config.auth.realm].join(' '),
  ];

  assert.deepEqual(pick(resolveServeConfig({ config: file }, {})), ['127.0.0.1:1001', '/from/file', '/file.db', 'error', HOUR, 60 * SECOND, SECOND, '/file.crt', '/file.key', 4 * SECOND, 7 * SECOND, 'basic /file.htpasswd /file.yaml /file.pem 1 file-service https://file/auth']);
  assert.deepEqual(pick(resolveServeConfig({ config: file }, env)), ['127.0.0.1:1002', '/from/env', '/env.db', 'debug', 2 * HOUR, 120 * SECOND, 2 * SECOND, '/env.crt', '/env.key', 5 * SECOND, 8 * SECOND, 'token /env.htpasswd /env.yaml /env.pem 2 env-service https://env/auth']);
  assert.deepEqual(pick(resolveServeConfig({ config: file, ...flags }, env)), ['127.0.0.1:1003', '/from/flag', '/flag.db', 'trace', 3 * HOUR, 180 * SECOND, 3 * SECOND, '/flag.crt', '/flag.key', 6 * SECOND, 9 * SECOND, 'basic /flag.htpasswd /flag.yaml /flag.pem 3 flag-service https://flag/auth']);
  assert.deepEqual(pick(resolveServeConfig(flags, {})), ['127.0.0.1:1003', '/from/flag', '/flag.db', 'trace', 3 * HOUR, 180 * SECOND, 3 * SECOND, '/flag.crt', '/flag.key', 6 * SECOND, 9 * SECOND, 'basic /flag.htpasswd /flag.yaml /flag.pem 3 flag-service https://flag/auth']);
});

test('resolveServeConfig: a TLS certificate needs its key and a key its certificate, from wherever each came', async () => {
  assertConfigError(() => resolveServeConfig({ 'tls-cert': '/srv/tls/cert.pem' }, {}), '--tls-cert: ', /needs --tls-key/);
  assertConfigError(() => resolveServeConfig({}, { WHARF_TLS_KEY: '/srv/tls/key.pem' }), 'WHARF_TLS_KEY: ', /needs --tls-cert/);
  const file = await yamlFile('tls-cert-only.yaml', 'tls-cert: /srv/tls/cert.pem\n');
  assertConfigError(() => resolveServeConfig({ config: file }, {}), `tls-cert in ${file}: `, /needs --tls-key/);
  assert.deepEqual(resolveServeConfig({ 'tls-key': '/k.pem' }, { WHARF_TLS_CERT: '/c.pem' }).tls, { certFile: '/c.pem', keyFile: '/k.pem' });
});

test('resolveServeConfig: authentication is off by default, basic with --htpasswd, token when asked', () => {
  assert.deepEqual(resolveServeConfig({ storage: '/srv/registry' }, {}).auth, {
    mode: 'none',
    tokenKey: { file: '/srv/registry/token-key.pem', create: true },
    tokenTtlMs: 5 * 60 * SECOND,
    service: 'wharf',
  });
  assert.equal(resolveServeConfig({ htpasswd: '/etc/wharf/htpasswd' }, {}).auth.mode, 'basic');
  assert.equal(resolveServeConfig({ htpasswd: '/etc/wharf/htpasswd', auth: 'token' }, {}).auth.mode, 'token');
  assert.equal(resolveServeConfig({ auth: 'token' }, {}).auth.mode, 'token', 'token mode without users serves anonymous callers only');
});

test('resolveServeConfig: the token key is made beside the storage unless named, and then must exist', () => {
  assert.deepEqual(resolveServeConfig({ storage: 'file:///srv/registry', auth: 'token' }, {}).auth.tokenKey, { file: '/srv/registry/token-key.pem', create: true });
  assert.deepEqual(resolveServeConfig({ storage: 'memory://', auth: 'token' }, {}).auth.tokenKey, {}, 'memory storage: a key per start');
  assert.deepEqual(resolveServeConfig({ storage: 's3://bucket/prefix', auth: 'token' }, { XDG_DATA_HOME: '/data' }).auth.tokenKey, { file: '/data/wharf/token-keys/s3_bucket_prefix.pem', create: true });
  assert.deepEqual(resolveServeConfig({ auth: 'token' }, { WHARF_TOKEN_KEY: '/etc/wharf/key.pem' }).auth.tokenKey, { file: '/etc/wharf/key.pem', create: false });
});

test('resolveServeConfig: authentication settings that do not fit together are named', () => {
  assertConfigError(() => resolveServeConfig({ auth: 'basic' }, {}), '--auth: ', /basic needs --htpasswd/);
  assertConfigError(() => resolveServeConfig({ auth: 'ldap' }, {}), '--auth: ', /unknown mode "ldap" \(use none, basic, token\)/);
  assertConfigError(() => resolveServeConfig({ auth: 'none', htpasswd: '/h' }, {}), '--htpasswd: ', /needs --auth basic or token/);
  assertConfigError(() => resolveServeConfig({ access: '/a.yaml' }, {}), '--access: ', /needs --auth basic or token/);
  assertConfigError(() => resolveServeConfig({ auth: 'token', realm: 'registry.example.com/auth' }, {}), '--realm: ', /not an http\(s\) URL/);
  assertConfigError(() => resolveServeConfig({ auth: 'token', 'token-ttl': '0s' }, {}), '--token-ttl: ', /longer than 0/);
  assertConfigError(() => resolveServeConfig({ service: '' }, {}), '--service: ', /must not be empty/);
});

test('resolveServeConfig: the header and idle timeouts must be longer than 0', () => {
  assertConfigError(() => resolveServeConfig({ 'header-timeout': '0s' }, {}), '--header-timeout: ', /longer than 0/);
  assertConfigError(() => resolveServeConfig({}, { WHARF_IDLE_TIMEOUT: '0ms' }), 'WHARF_IDLE_TIMEOUT: ', /longer than 0/);
});

test('resolveServeConfig: an empty variable counts as unset; an undefined flag too', async () => {
  const file = await yamlFile('addr.yaml', 'addr: 127.0.0.1:7000\n');
  const config = resolveServeConfig({ config: file, addr: undefined }, { WHARF_ADDR: '', WHARF_LOG_LEVEL: '' });
  assert.equal(config.port, 7000);
  assert.equal(config.logLevel, 'info');
});

test('resolveServeConfig: WHARF_CONFIG names the file unless --config does', async () => {
  const fromEnv = await yamlFile('env.yaml', 'addr: 127.0.0.1:7001\n');
  const fromFlag = await yamlFile('flag.yaml', 'addr: 127.0.0.1:7002\n');
  assert.equal(resolveServeConfig({}, { WHARF_CONFIG: fromEnv }).port, 7001);
  assert.equal(resolveServeConfig({ config: fromFlag }, { WHARF_CONFIG: fromEnv }).port, 7002);
});

test('resolveServeConfig: an empty YAML file or one of comments means all defaults', async () => {
  for (const text of ['', '# nothing here\n', '---\n']) {
    const config = resolveServeConfig({ config: await yamlFile('empty.yaml', text) }, {});
    assert.equal(config.port, 5000, JSON.stringify(text));
  }
});

test('resolveServeConfig: addresses', () => {
  const cases: [string, string, number][] = [
    ['127.0.0.1:5000', '127.0.0.1', 5000],
    [':5001', '0.0.0.0', 5001],
    ['localhost:80', 'localhost', 80],
    ['[::1]:5002', '::1', 5002],
    ['[::]:5003', '::', 5003],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['127.0.0.1:65535', '127.0.0.1', 65535],
  ];
  for (const [addr, host, port] of cases) {
    const config = resolveServeConfig({ addr }, {});
    assert.deepEqual([config.host, config.port], [host, port], addr);
  }
  for (const addr of ['nonsense', '5000', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:123456', '::1:5000', '[::1]', 'host:port', 'a b:80', '']) {
    assertConfigError(() => resolveServeConfig({ addr }, {}), '--addr: ', /is not HOST:PORT/);
  }
  assertConfigError(() => resolveServeConfig({}, { WHARF_ADDR: 'nonsense' }), 'WHARF_ADDR: ');
});

test('resolveServeConfig: log levels', () => {
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    assert.equal(resolveServeConfig({ 'log-level': level }, {}).logLevel, level);
  }
  assertConfigError(() => resolveServeConfig({ 'log-level': 'loud' }, {}), '--log-level: ', /unknown log level "loud"/);
  assertConfigError(() => resolveServeConfig({ 'log-level': 'INFO' }, {}), '--log-level: ');
  assertConfigError(() => resolveServeConfig({}, { WHARF_LOG_LEVEL: 'verbose' }), 'WHARF_LOG_LEVEL: ');
});

test('resolveServeConfig: bad durations name the flag, the variable or the file key', async () => {
  assertConfigError(() => resolveServeConfig({ 'shutdown-timeout': '10' }, {}), '--shutdown-timeout: ');
  assertConfigError(() => resolveServeConfig({}, { WHARF_UPLOAD_PURGE_INTERVAL: 'hourly' }), 'WHARF_UPLOAD_PURGE_INTERVAL: ');
  const file = await yamlFile('durations.yaml', 'upload-purge-age: 5\n');
  assertConfigError(() => resolveServeConfig({ config: file }, {}), `upload-purge-age in ${file}: `, /"5" is not a duration/);
});

test('resolveServeConfig: storage must not be empty', () => {
  assertConfigError(() => resolveServeConfig({ storage: '' }, {}), 'storage: ');
});

test('resolveServeConfig: bad config files are named, with the reason', async () => {
  const unknown = await yamlFile('unknown.yaml', 'addr: 127.0.0.1:5000\ncolour: blue\n');
  assertConfigError(() => resolveServeConfig({ config: unknown }, {}), `--config ${unknown}: `, /unknown setting "colour"/);
  const camel = await yamlFile('camel.yaml', 'logLevel: debug\n');
  assertConfigError(() => resolveServeConfig({ config: camel }, {}), `--config ${camel}: `, /unknown setting "logLevel"/);
  const list = await yamlFile('list.yaml', '- addr\n');
  assertConfigError(() => resolveServeConfig({ config: list }, {}), `--config ${list}: `, /mapping/);
  const scalar = await yamlFile('scalar.yaml', 'just text\n');
  assertConfigError(() => resolveServeConfig({ config: scalar }, {}), `--config ${scalar}: `, /mapping/);
  const broken = await yamlFile('broken.yaml', 'addr: [unclosed\n');
  assertConfigError(() => resolveServeConfig({ config: broken }, {}), `--config ${broken}: `, /not valid YAML/);
  const missing = join(dir!, 'missing.yaml');
  assertConfigError(() => resolveServeConfig({ config: missing }, {}), `--config ${missing}: `, /no such file/);
  // A bad file is refused even when flags would override every value in it.
  assertConfigError(() => resolveServeConfig({ config: unknown, addr: '127.0.0.1:1' }, {}), `--config ${unknown}: `);
});

test('resolveServeConfig: a key left empty in the YAML file is not the string "null"', async () => {
  const file = await yamlFile('null.yaml', 'storage:\n');
  let storage: string | undefined;
  try {
    storage = resolveServeConfig({ config: file }, {}).storage;
  } catch (error) {
    assert.ok(error instanceof ConfigError && error.message.includes('storage'), String(error));
    return;
  }
  assert.notEqual(storage, 'null', 'an empty value must be an error or the default, not a directory named "null"');
});

test('resolveServeConfig: an empty WHARF_CONFIG counts as unset, like every other variable', () => {
  assert.equal(resolveServeConfig({}, { WHARF_CONFIG: '' }).port, 5000);
});
