// Helpers for the registry client tests: a real Wharf registry listening on loopback with a log
// of the requests it served, images assembled in memory, and temporary content stores.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import tar from 'tar-stream';
import { createApp } from '../../registry/app.js';
import { MemoryDriver } from '../../registry/storage/memory.js';
import { ContentStore } from '../../shared/content-store.js';
import { digestOf } from '../../shared/digest.js';
import type { Image } from '../../shared/image.js';
import type { ImageConfig } from '../../shared/image-config.js';
import { MediaType } from '../../shared/media-types.js';
import type { ImageManifest, Platform } from '../../shared/oci.js';

export interface TestRegistry {
  readonly app: FastifyInstance;
  /** `127.0.0.1:PORT`, as image references name it. */
  readonly host: string;
  /** `METHOD /path?query` of every request served, in order. */
  readonly requests: string[];
}

/**
 * A registry over memory storage, listening on 127.0.0.1 until the test ends. `configure` runs
 * before it listens: tests add auth hooks, a token route or failure injection there.
 */
export async function startRegistry(t: TestContext, configure?: (app: FastifyInstance) => void): Promise<TestRegistry> {
  const app = await createApp({ storage: new MemoryDriver(), logger: false });
  const requests: string[] = [];
  app.addHook('onRequest', async (request) => {
    requests.push(`${request.method} ${request.url}`);
  });
  configure?.(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  return { app, host: `127.0.0.1:${(app.server.address() as AddressInfo).port}`, requests };
}

/** The Authorization header of HTTP Basic credentials. */
export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Answers 401 UNAUTHORIZED with `challenge` as WWW-Authenticate. */
export function unauthorized(reply: FastifyReply, challenge: string): FastifyReply {
  return reply
    .code(401)
    .header('www-authenticate', challenge)
    .header('content-type', 'application/json')
    .send({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
}

/** Puts HTTP Basic authentication for one user in front of every /v2 endpoint. */
export function requireBasic(app: FastifyInstance, user: string, password: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/v2')) return;
    if (request.headers.authorization !== basicHeader(user, password)) return unauthorized(reply, 'Basic realm="wharf-test"');
  });
}

/** The requests of `registry` since `from` whose line matches `pattern`. */
export function requestsMatching(registry: TestRegistry, pattern: RegExp, from = 0): string[] {
  return registry.requests.slice(from).filter((line) => pattern.test(line));
}

/** An empty content store in a temporary directory, removed when the test ends. */
export async function temporaryStore(t: TestContext): Promise<ContentStore> {
  const root = await mkdtemp(join(tmpdir(), 'wharf-client-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return new ContentStore(root);
}

/** A Docker config.json holding `auths` (and `more` keys: credsStore, credHelpers), in a temporary directory; returns its path. */
export async function dockerConfig(t: TestContext, auths: Record<string, object>, more: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-docker-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify({ auths, ...more }));
  return path;
}

/** A gzip tar layer holding `files` (name → content). */
export async function gzipLayer(files: Record<string, string>): Promise<{ tar: Buffer; gzip: Buffer }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk) => chunks.push(chunk as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  const tarBytes = Buffer.concat(chunks);
  return { tar: tarBytes, gzip: gzipSync(tarBytes) };
}

/**
 * An OCI image assembled in memory: one gzip layer per entry of `layers`, a config for `platform`
 * carrying `label` (so two images with the same layers still differ), and its manifest.
 */
export async function testImage(options: {
  layers: Record<string, string>[];
  platform?: Platform;
  label?: string;
}): Promise<Image> {
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const built = await Promise.all(options.layers.map((files) => gzipLayer(files)));
  const layers = built.map(({ tar: tarBytes, gzip }) => ({
    descriptor: { mediaType: MediaType.OciLayerGzip, digest: digestOf(gzip), size: gzip.length },
    diffId: digestOf(tarBytes),
    open: async () => Readable.from([gzip]),
  }));
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: { Labels: { test: options.label ?? 'image' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
  const rawConfig = Buffer.from(JSON.stringify(config));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: digestOf(rawConfig), size: rawConfig.length },
    layers: layers.map((l) => l.descriptor),
  };
  const rawManifest = Buffer.from(JSON.stringify(manifest));
  return { manifest, rawManifest, digest: digestOf(rawManifest), mediaType: MediaType.OciManifest, config, rawConfig, layers };
}

/** All the bytes of a stream. */
export async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
