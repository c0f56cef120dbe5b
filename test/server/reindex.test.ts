// `wharf reindex` as a user runs it: where it finds storage and the index, what it prints, how it
// refuses what it cannot do, and what it does to an index a running registry holds.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MediaType } from '../../shared/media-types.js';
import { eventually } from '../support/eventually.js';
import { tempDir } from '../support/temp-dir.js';
import { runWharf, startWharf } from '../support/wharf-process.js';
import { pushBlob, send } from './http-client.js';

/** Pushes a one-layer image as `name:tag` and returns its manifest digest. */
async function pushImage(baseUrl: string, name: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'org.opencontainers.image.description': `the ${name} image` } }, rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = Buffer.from(`layer of ${name}`);
  const configDigest = await pushBlob(baseUrl, name, config);
  const layerDigest = await pushBlob(baseUrl, name, layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
    layers: [{ mediaType: MediaType.OciLayer, digest: layerDigest, size: layer.length }],
  });
  const res = await send(baseUrl, 'PUT', `/v2/${name}/manifests/${tag}`, { headers: { 'content-type': MediaType.OciManifest }, body: manifest });
  assert.equal(res.status, 201, res.body.toString());
  return String(res.headers['docker-content-digest']);
}

async function searchNames(baseUrl: string, query: string): Promise<string[]> {
  const res = await send(baseUrl, 'GET', `/api/v1/search?${query}`);
  assert.equal(res.status, 200, res.body.toString());
  return (JSON.parse(res.body.toString()) as { results: { name: string }[] }).results.map((r) => r.name);
}

test('wharf reindex rebuilds the index a stopped registry left, and prints what it indexed', async (t) => {
  const server = await startWharf({ t });
  await pushImage(server.url, 'one/app', 'v1');
  await pushImage(server.url, 'two/app', 'v1');
  await server.stop();
  const result = await runWharf(['reindex', '--storage', server.storage]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, new RegExp(`^indexed 2 repositories \\(2 manifests, 2 tags\\) from filesystem:${server.storage} into ${join(server.storage, 'search-index.db')} in \\d+\\.\\d\\d s\\n$`));
  const again = await startWharf({ t, storage: server.storage });
  assert.deepEqual(await searchNames(again.url, 'q=app'), ['one/app', 'two/app']);
});

test('wharf reindex takes --search-index, WHARF_SEARCH_INDEX and the config file as serve does', async (t) => {
  const dir = await tempDir(t);
  const index = join(dir, 'elsewhere.db');
  const byFlag = await runWharf(['reindex', '--storage', join(dir, 'storage'), '--search-index', index]);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.match(byFlag.stdout, /^indexed 0 repositories .* into .*elsewhere\.db/);
  const byEnv = await runWharf(['reindex'], { env: { WHARF_STORAGE: join(dir, 'storage'), WHARF_SEARCH_INDEX: index } });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.match(byEnv.stdout, /elsewhere\.db/);
});

test('wharf reindex refuses unknown options and an index kept in memory, in one line', async () => {
  for (const args of [['reindex', '--addr', '127.0.0.1:1'], ['reindex', 'positional'], ['reindex', '--storage', 'memory://'], ['reindex', '--search-index', 'memory://']]) {
    const result = await runWharf(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  }
  const help = await runWharf(['reindex', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--storage PATH\|URL/);
  assert.match(help.stdout, /--search-index FILE/);
  assert.match(help.stdout, /WHARF_SEARCH_INDEX/);
  assert.match((await runWharf(['--help'])).stdout, /^\s+reindex\s+\S/m);
});

test('wharf reindex on the index of a running registry makes every registry on the storage rebuild its own', async (t) => {
  const server = await startWharf({ t });
  const digest = await pushImage(server.url, 'seen/app', 'v1');
  // Copied in behind the registry's back: only a rebuild, which reads storage again, finds it.
  const revision = join(server.storage, 'repositories', 'copied', 'app', '_manifests', 'revisions', 'sha256', digest.slice('sha256:'.length));
  await mkdir(revision, { recursive: true });
  await writeFile(join(revision, 'link'), digest);
  assert.deepEqual(await searchNames(server.url, 'q=app'), ['seen/app']);
  const result = await runWharf(['reindex', '--storage', server.storage]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /in use by a running registry/);
  await eventually('the registry rebuilt its index', 20_000, async () => ((await searchNames(server.url, 'q=app')).includes('copied/app') ? true : undefined));
});
