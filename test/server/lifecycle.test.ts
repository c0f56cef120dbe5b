// The life of a real `wharf serve` process: graceful shutdown, where its settings come from,
// how it refuses bad ones, and what it logs.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SERVE_SETTINGS } from '../../registry/config.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { tempDir } from '../support/temp-dir.js';
import { runWharf, startWharf, type WharfProcess } from '../support/wharf-process.js';
import { locationPath, pushBlob, readResponse, send, startUpload, uploadOffset, withQuery, type Response } from './http-client.js';
import { connectionRefused, rawConnect, requestHead } from './raw-connection.js';
import { sha256, testBytes } from './sample-bytes.js';

const KiB = 1024;

/**
 * Streams `data` as one PATCH in `chunks` pieces `intervalMs` apart, calling `between(i)` after
 * piece i is written; resolves with the response (rejects if the connection fails).
 */
async function slowPatch(
  server: WharfProcess,
  location: string,
  data: Buffer,
  options: { chunks: number; intervalMs: number; between?: (index: number) => Promise<void> },
): Promise<Response> {
  const req = httpRequest(new URL(location, server.url), {
    method: 'PATCH',
    agent: false,
    headers: { 'content-type': 'application/octet-stream', 'content-length': data.length },
  });
  const response = readResponse(req, 'slow PATCH', 20_000);
  response.catch(() => {}); // observed below; avoid an unhandled rejection while still writing
  const size = Math.ceil(data.length / options.chunks);
  for (let i = 0; i < options.chunks; i++) {
    await new Promise<void>((resolve, reject) => req.write(data.subarray(i * size, (i + 1) * size), (error) => (error ? reject(error) : resolve())));
    await options.between?.(i);
    await delay(options.intervalMs);
  }
  req.end();
  return response;
}

async function drainsInFlightPatch(t: TestContext, args: string[]): Promise<void> {
  const server = await startWharf({ t, logLevel: 'info', args });
  const repository = 'lifecycle/drain';
  const location = await startUpload(server.url, repository);
  const blob = testBytes(640 * KiB, 1);

  const res = await slowPatch(server, location, blob, {
    chunks: 10,
    intervalMs: 100,
    between: async (index) => {
      if (index !== 3) return;
      server.child.kill('SIGTERM');
      await server.waitForOutput('shutting down');
      // While draining, the listening socket is closed: new clients are refused, not queued.
      await eventually('new connections are refused while draining', 3_000, async () => ((await connectionRefused(server.port)) ? true : undefined));
      assert.equal(server.exited(), false, 'the server must wait for the in-flight request');
    },
  });
  assert.equal(res.status, 202, `the in-flight PATCH completes: ${res.status} ${res.body}`);
  assert.equal(res.headers.range, `0-${blob.length - 1}`);

  const status = await server.waitForExit(10_000);
  assert.deepEqual(status, { code: 0, signal: null }, `exit after draining; stderr: ${server.stderr()}`);
  assert.equal(server.stderr(), '', 'nothing on stderr');
  assert.equal(await connectionRefused(server.port), true, 'nothing listens after shutdown');

  // The drained chunk is in storage whole: a new process finishes the upload.
  const next = await startWharf({ t, storage: server.storage });
  const offset = await uploadOffset(next.url, location);
  assert.equal(offset.offset, blob.length);
  const put = await send(next.url, 'PUT', withQuery(location, 'digest', sha256(blob)));
  assert.equal(put.status, 201, `${put.status} ${put.body}`);
  const get = await send(next.url, 'GET', `/v2/${repository}/blobs/${sha256(blob)}`);
  assert.ok(get.body.equals(blob), 'the blob reads back whole');
}

test('SIGTERM drains an in-flight streamed PATCH, refuses new connections, then exits 0', async (t) => {
  await drainsInFlightPatch(t, ['--shutdown-timeout', '10s']);
});

test('a shutdown timeout longer than a 32-bit timer still drains (30d is a valid duration)', async (t) => {
  await drainsInFlightPatch(t, ['--shutdown-timeout', '30d']);
});

test('a request still running at the shutdown timeout is cut off and its chunk rolled back', async (t) => {
  const server = await startWharf({ t, logLevel: 'info', args: ['--shutdown-timeout', '1s'] });
  const repository = 'lifecycle/timeout';
  const location = await startUpload(server.url, repository);
  const blob = testBytes(256 * KiB, 2);
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(requestHead('PATCH', location, server.port, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length }));
  await conn.write(blob.subarray(0, 100 * KiB));
  await delay(200);

  const signalled = Date.now();
  server.child.kill('SIGTERM');
  const status = await server.waitForExit(10_000);
  const took = Date.now() - signalled;
  assert.deepEqual(status, { code: 0, signal: null }, `exit after the shutdown timeout; stderr: ${server.stderr()}`);
  assert.ok(took >= 900 && took < 5_000, `exited ${took} ms after SIGTERM with a 1s shutdown timeout`);
  assert.ok(await conn.waitClosed(5_000), 'the stalled connection is closed');
  assert.ok(!conn.statuses().includes(202), 'the cut-off chunk is not accepted');

  const next = await startWharf({ t, storage: server.storage });
  const offset = await uploadOffset(next.url, location);
  assert.equal(offset.res.status, 204);
  assert.equal(offset.offset, 0, 'the cut-off chunk was rolled back');
  const put = await send(next.url, 'PUT', withQuery(location, 'digest', sha256(blob)), {
    body: blob,
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201, `${put.status} ${put.body}`);
});

test('settings: a flag beats the environment, which beats the --config file', async (t) => {
  const dir = await tempDir(t);
  const [filePort, envPort, flagPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'wharf.yaml');
  await writeFile(configFile, `addr: 127.0.0.1:${filePort}\nshutdown-timeout: 5s\n`);
  const answersOnly = async (server: WharfProcess, port: number) => {
    assert.equal(server.port, port);
    for (const other of [filePort, envPort, flagPort].filter((p) => p !== port)) {
      assert.equal(await connectionRefused(other), true, `nothing should listen on ${other}`);
    }
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  };

  await answersOnly(await startWharf({ t, port: filePort, passAddr: false, args: ['--config', configFile] }), filePort);
  await answersOnly(await startWharf({ t, port: filePort, passAddr: false, env: { WHARF_CONFIG: configFile } }), filePort);
  await answersOnly(
    await startWharf({ t, port: envPort, passAddr: false, args: ['--config', configFile], env: { WHARF_ADDR: `127.0.0.1:${envPort}` } }),
    envPort,
  );
  // An empty variable counts as unset.
  await answersOnly(await startWharf({ t, port: filePort, passAddr: false, args: ['--config', configFile], env: { WHARF_ADDR: '' } }), filePort);
  await answersOnly(
    await startWharf({ t, port: flagPort, args: ['--config', configFile], env: { WHARF_ADDR: `127.0.0.1:${envPort}` } }),
    flagPort,
  );
});

test('settings: storage and log level come from the file or the environment too', async (t) => {
  const dir = await tempDir(t);
  const storage = await tempDir(t);
  const configFile = join(dir, 'wharf.yaml');
  await writeFile(configFile, `storage: ${storage}\nlog-level: warn\n`);
  // log-level from the environment (info) beats the file (warn): the ready line is logged.
  const server = await startWharf({ t, passStorage: false, logLevel: null, args: ['--config', configFile], env: { WHARF_LOG_LEVEL: 'info' } });
  await server.waitForOutput('wharf registry ready');
  assert.ok(server.stdout().includes(`filesystem:${storage}`), `serves the file's storage: ${server.stdout()}`);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });

  // Without the variable the file's warn applies: no info lines at all.
  const quiet = await startWharf({ t, passStorage: false, logLevel: null, args: ['--config', configFile] });
  assert.deepEqual(await quiet.stop(), { code: 0, signal: null });
  assert.equal(quiet.stdout(), '', 'log-level warn from the file: no info lines');
});

test('bad settings exit non-zero with one line on stderr naming the setting', async (t) => {
  const dir = await tempDir(t);
  const storage = await tempDir(t);
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const unknownKey = await file('unknown.yaml', 'addr: 127.0.0.1:0\ncolour: blue\n');
  const badFileDuration = await file('duration.yaml', 'upload-purge-age: forever\n');
  const numberDuration = await file('number.yaml', 'shutdown-timeout: 5\n');
  const notMapping = await file('list.yaml', '- addr\n- storage\n');
  const notYaml = await file('broken.yaml', 'addr: [unclosed\n');
  const base = ['serve', '--storage', storage];
  const cases: { args: string[]; env?: Record<string, string>; names: RegExp }[] = [
    { args: [...base, '--config', unknownKey], names: /colour/ },
    { args: [...base, '--config', badFileDuration], names: /upload-purge-age/ },
    { args: [...base, '--config', numberDuration], names: /shutdown-timeout/ },
    { args: [...base, '--config', notMapping], names: /--config/ },
    { args: [...base, '--config', notYaml], names: /--config/ },
    { args: [...base, '--config', join(dir, 'missing.yaml')], names: /--config/ },
    { args: [...base, '--upload-purge-interval', 'soon'], names: /--upload-purge-interval/ },
    { args: [...base, '--shutdown-timeout', '10'], names: /--shutdown-timeout/ },
    { args: [...base], env: { WHARF_UPLOAD_PURGE_AGE: '1 week' }, names: /WHARF_UPLOAD_PURGE_AGE/ },
    { args: [...base, '--addr', 'nonsense'], names: /--addr/ },
    { args: [...base, '--addr', '127.0.0.1:99999'], names: /--addr/ },
    { args: [...base], env: { WHARF_ADDR: 'localhost' }, names: /WHARF_ADDR/ },
    { args: [...base, '--log-level', 'loud'], names: /--log-level/ },
    { args: [...base], env: { WHARF_LOG_LEVEL: 'LOUD' }, names: /WHARF_LOG_LEVEL/ },
    { args: [...base, '--colour', 'blue'], names: /colour/ },
    { args: [...base, 'extra'], names: /extra/ },
    { args: ['serve', '--storage', ''], names: /storage/ },
  ];
  for (const { args, env, names } of cases) {
    const shown = `wharf ${args.join(' ')}${env ? ` with ${JSON.stringify(env)}` : ''}`;
    const result = await runWharf(args, { env });
    assert.equal(result.signal, null, `${shown}: did not exit by itself (still serving?)`);
    assert.notEqual(result.code, 0, `${shown}: exit code`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${shown}: exactly one line on stderr, got:\n${result.stderr}`);
    assert.match(lines[0]!, names, `${shown}: the line names the setting`);
    assert.doesNotMatch(result.stderr, /^\s+at /m, `${shown}: no stack trace`);
    assert.equal(result.stdout, '', `${shown}: nothing on stdout`);
  }
});

test('a port already in use exits 1 with one line on stderr', async (t) => {
  const server = await startWharf({ t });
  const result = await runWharf(['serve', '--addr', `127.0.0.1:${server.port}`, '--storage', server.storage]);
  assert.equal(result.code, 1, `exit code (signal ${result.signal}); stderr: ${result.stderr}; stdout: ${result.stdout}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /cannot listen/);
  assert.equal((await send(server.url, 'GET', '/v2/')).status, 200, 'the first server is unaffected');
});

test('a host name that does not resolve exits non-zero with one line on stderr', async (t) => {
  const storage = await tempDir(t);
  // .invalid never resolves (RFC 2606).
  const result = await runWharf(['serve', '--addr', 'no-such-host.invalid:5000', '--storage', storage], { timeoutMs: 15_000 });
  assert.equal(result.signal, null, 'exits by itself');
  assert.notEqual(result.code, 0);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `exactly one line on stderr, got:\n${result.stderr}`);
  assert.match(result.stderr, /no-such-host\.invalid/);
});

test('wharf serve --help lists every setting with its flag and variable; wharf --help lists serve', async () => {
  const serveHelp = await runWharf(['serve', '--help']);
  assert.equal(serveHelp.code, 0);
  assert.equal(serveHelp.stderr, '');
  const expected = [
    'addr', 'storage', 'search-index', 'log-level', 'upload-purge-age', 'upload-purge-interval', 'shutdown-timeout',
    'tls-cert', 'tls-key', 'header-timeout', 'idle-timeout', 'auth', 'htpasswd', 'access', 'token-key', 'token-ttl', 'service', 'realm',
  ];
  assert.deepEqual(SERVE_SETTINGS.map((s) => s.key).sort(), [...expected].sort(), 'the settings this test knows about');
  for (const key of expected) {
    assert.match(serveHelp.stdout, new RegExp(`--${key} `), `--${key} in serve --help`);
    assert.ok(serveHelp.stdout.includes(`WHARF_${key.toUpperCase().replaceAll('-', '_')}`), `WHARF_ variable of ${key} in serve --help`);
  }
  assert.match(serveHelp.stdout, /--config FILE/);
  assert.match(serveHelp.stdout, /WHARF_CONFIG/);

  for (const args of [['--help'], ['-h'], []]) {
    const help = await runWharf(args);
    assert.equal(help.code, 0, `wharf ${args.join(' ')}`);
    assert.match(help.stdout, /^\s+serve\s+\S/m, `wharf ${args.join(' ')} lists serve`);
  }
  const unknown = await runWharf(['frobnicate']);
  assert.notEqual(unknown.code, 0);
  assert.equal(unknown.stderr.trimEnd().split('\n').length, 1);
  assert.match(unknown.stderr, /frobnicate/);
});

interface LogLine {
  level: number;
  time: number;
  msg: string;
  method?: string;
  url?: string;
  status?: number;
  ms?: number;
}

/** Every stdout line parsed as JSON; fails on a line that is not. */
function parseLogLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        assert.fail(`stdout line is not JSON: ${line}`);
      }
    });
}

test('each request is logged as one JSON line with method, url and status', async (t) => {
  const server = await startWharf({ t, logLevel: 'info' });
  const repository = 'lifecycle/logs';
  const blob = testBytes(10 * KiB, 3);
  const digest = sha256(blob);
  const expected: { method: string; url: string; status: number }[] = [];
  // Keep-alive, as registry clients use it (see the next test for Connection: close).
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const call = async (method: string, url: string, status: number, body?: Buffer) => {
    const headers: Record<string, string> = body ? { 'content-type': 'application/octet-stream' } : {};
    const res = await send(server.url, method, url, { body, headers, agent });
    assert.equal(res.status, status, `${method} ${url}: ${res.body}`);
    expected.push({ method, url, status });
    return res;
  };

  await call('GET', '/v2/?probe=1', 200);
  const location = locationPath(await call('POST', `/v2/${repository}/blobs/uploads/`, 202));
  const patched = locationPath(await call('PATCH', location, 202, blob));
  await call('PUT', withQuery(patched, 'digest', digest), 201);
  await call('HEAD', `/v2/${repository}/blobs/${digest}`, 200);
  await call('GET', `/v2/${repository}/blobs/${digest}`, 200);
  await call('GET', `/v2/${repository}/blobs/sha256:${'0'.repeat(64)}`, 404);
  await call('GET', `/v2/${repository}/manifests/missing`, 404);
  await call('PUT', `/v2/${repository}/blobs/uploads/${location.split('/').pop()}?digest=nope`, 400);
  await call('GET', '/v2', 301);
  await call('GET', '/elsewhere', 404);
  agent.destroy();
  assert.deepEqual(await server.stop(), { code: 0, signal: null });

  const lines = parseLogLines(server.stdout());
  for (const line of lines) {
    assert.equal(typeof line.level, 'number');
    assert.equal(typeof line.time, 'number');
    assert.equal(typeof line.msg, 'string');
  }
  // The harness's readiness probe is GET /v2/; the test's own requests all differ from it.
  const requests = lines.filter((line) => line.method !== undefined && !(line.method === 'GET' && line.url === '/v2/'));
  assert.deepEqual(
    requests.map(({ method, url, status }) => ({ method, url, status })),
    expected,
    'one line per request, in order',
  );
  for (const line of requests) {
    assert.equal(line.msg, 'request');
    assert.equal(typeof line.ms, 'number');
  }
  assert.equal(server.stderr(), '');
});

test('a streamed blob GET on a Connection: close request is logged too', async (t) => {
  const server = await startWharf({ t, logLevel: 'info' });
  const repository = 'lifecycle/close';
  const blob = testBytes(10 * KiB, 5);
  const digest = await pushBlob(server.url, repository, blob);
  const rounds = 20;
  for (let i = 0; i < rounds; i++) {
    const res = await send(server.url, 'GET', `/v2/${repository}/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(blob));
  }
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  const logged = parseLogLines(server.stdout()).filter((line) => line.method === 'GET' && line.url === `/v2/${repository}/blobs/${digest}`);
  assert.equal(logged.length, rounds, `${rounds} complete GETs, ${logged.length} request lines`);
});

test('a request the client aborts is logged as one request line, not as a server error', async (t) => {
  const server = await startWharf({ t, logLevel: 'info' });
  const location = await startUpload(server.url, 'lifecycle/aborted');
  const conn = await rawConnect(server.port);
  t.after(() => conn.destroy());
  await conn.write(requestHead('PATCH', location, server.port, { 'Content-Type': 'application/octet-stream', 'Content-Length': 100 * KiB }));
  await conn.write(testBytes(10 * KiB, 4));
  await delay(100);
  conn.destroy();
  await delay(300);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  const lines = parseLogLines(server.stdout()).filter((line) => line.level >= 50 || (line.method === 'PATCH' && line.url === location));
  assert.equal(lines.length, 1, `one line for the aborted PATCH:\n${server.stdout()}`);
  assert.equal(lines[0]!.msg, 'request');
  assert.ok(lines[0]!.level < 50, 'a client going away is not a server error');
});
