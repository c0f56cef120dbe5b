// Helpers shared by the API tests: a fresh app per test, blob and manifest pushes through
// the HTTP API itself, and assertions on the OCI error envelope.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createApp } from '../../registry/app.js';
import type { StorageDriver } from '../../registry/storage/driver.js';
import { digestOf, type Digest, type DigestAlgorithm } from '../../shared/digest.js';
import { MediaType } from '../../shared/media-types.js';
import type { Descriptor } from '../../shared/oci.js';
import { newTestStorage } from '../support/test-storage.js';

export type App = Awaited<ReturnType<typeof createApp>>;
export type Response = LightMyRequestResponse;

/**
 * A registry over fresh storage (memory, or S3 with WHARF_TEST_STORAGE=s3), closed when the test
 * ends. Two apps given the same `storage` are two instances of one registry (or one registry
 * before and after a restart). The search index is in memory unless `searchIndex` names a file.
 */
export async function newApp(t: TestContext, storage?: StorageDriver, searchIndex?: string): Promise<App> {
  const app = await createApp({ storage: storage ?? (await newTestStorage()), searchIndex, logger: false });
  t.after(() => app.close());
  return app;
}

/** GET `url`; the body is parsed only when the status is 200. */
export async function getJson<T>(app: App, url: string): Promise<{ res: Response; body: T | undefined }> {
  const res = await app.inject({ method: 'GET', url });
  return { res, body: res.statusCode === 200 ? (res.json() as T) : undefined };
}

/** The target of a `Link: <url>; rel="next"` header, as a path and query; undefined without one. */
export function nextLink(link: unknown): string | undefined {
  if (link === undefined) return undefined;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(String(link));
  assert.ok(match, `malformed Link header ${String(link)}`);
  const url = new URL(match[1]!, 'http://localhost');
  return url.pathname + url.search;
}

/**
 * Follows Link headers from `url` (a paginated list such as tags/list or _catalog), checking that
 * each page answers 200 with at most `pageSize` entries under `key`; returns every entry in order.
 */
export async function followPages(app: App, url: string, key: string, pageSize: number): Promise<string[]> {
  const seen: string[] = [];
  let next: string | undefined = url;
  for (let pages = 0; next !== undefined; pages++) {
    assert.ok(pages < 10, 'pagination does not terminate');
    const page: { res: Response; body?: Record<string, string[]> } = await getJson(app, next);
    assert.equal(page.res.statusCode, 200, page.res.body);
    const entries = page.body?.[key] ?? [];
    assert.ok(entries.length <= pageSize, `${entries.length} entries on a page of ${pageSize}`);
    seen.push(...entries);
    next = nextLink(page.res.headers.link);
  }
  return seen;
}

/** GET a blob, with extra request headers such as Range. */
export async function getBlob(app: App, repo: string, digest: string, headers: Record<string, string> = {}): Promise<Response> {
  return app.inject({ method: 'GET', url: `/v2/${repo}/blobs/${digest}`, headers });
}

/** HEAD a blob. */
export async function headBlob(app: App, repo: string, digest: string): Promise<Response> {
  return app.inject({ method: 'HEAD', url: `/v2/${repo}/blobs/${digest}` });
}

/** The path and query of a Location header, absolute or relative, for a follow-up inject. */
export function locationPath(res: Response): string {
  const location = res.headers.location;
  assert.equal(typeof location, 'string', `expected a Location header, got ${JSON.stringify(res.headers)}`);
  const url = new URL(location as string, 'http://localhost');
  return url.pathname + url.search;
}

/** A URL with query parameters added, keeping any the server already put there. */
export function withQuery(path: string, params: Record<string, string>): string {
  const url = new URL(path, 'http://localhost');
  for (const [key, value] of Object.entries(params)) url.searchParams.append(key, value);
  return url.pathname + url.search;
}

/** Asserts the response is an OCI error envelope carrying `code` with the given status. */
export function assertError(res: Response, status: number, code: string | readonly string[]): void {
  const codes = typeof code === 'string' ? [code] : code;
  assert.equal(res.statusCode, status, `expected ${status} ${codes.join('|')}, got ${res.statusCode}: ${res.body}`);
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`error body is not JSON: ${JSON.stringify(res.body)}`);
  }
  const errors = (body as { errors?: unknown }).errors;
  assert.ok(Array.isArray(errors) && errors.length > 0, `no errors array in ${res.body}`);
  for (const error of errors as { code?: unknown; message?: unknown }[]) {
    assert.equal(typeof error.code, 'string', `error without code in ${res.body}`);
    assert.equal(typeof error.message, 'string', `error without message in ${res.body}`);
  }
  const found = (errors as { code: string }[]).map((e) => e.code);
  assert.ok(found.some((c) => codes.includes(c)), `expected code ${codes.join('|')}, got ${found.join(', ')}`);
}

/** The first error code of an envelope response. */
export function errorCode(res: Response): string | undefined {
  try {
    return (JSON.parse(res.body) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** Distinct bytes for a blob, so that two tests' blobs never collide by accident. */
export function randomBlob(size = 64): Buffer {
  return randomBytes(size);
}

export interface PushedBlob {
  readonly content: Buffer;
  readonly digest: Digest;
  readonly size: number;
}

/** Starts an upload session and returns the response (202 expected). */
export async function startUpload(app: App, repo: string, query = ''): Promise<Response> {
  return app.inject({ method: 'POST', url: `/v2/${repo}/blobs/uploads/${query}` });
}

/** Pushes a blob the way most clients do it monolithically: POST, then PUT ?digest= with the body. */
export async function pushBlob(
  app: App,
  repo: string,
  content: Buffer | string = randomBlob(),
  algorithm: DigestAlgorithm = 'sha256',
): Promise<PushedBlob> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const digest = digestOf(bytes, algorithm);
  const post = await startUpload(app, repo);
  assert.equal(post.statusCode, 202, `POST upload for ${repo}: ${post.statusCode} ${post.body}`);
  const put = await app.inject({
    method: 'PUT',
    url: withQuery(locationPath(post), { digest }),
    headers: { 'content-type': 'application/octet-stream' },
    payload: bytes,
  });
  assert.equal(put.statusCode, 201, `PUT blob ${digest} to ${repo}: ${put.statusCode} ${put.body}`);
  return { content: bytes, digest, size: bytes.length };
}

/** A descriptor of some bytes. */
export function descriptorOf(mediaType: string, content: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(content), size: content.length, ...extra };
}

/** What an image config says beyond its rootfs: labels and platform (default linux/amd64). */
export interface ConfigParts {
  readonly labels?: Record<string, string>;
  readonly os?: string;
  readonly architecture?: string;
  readonly variant?: string;
}

/** An OCI image config whose bytes are unique to this call. */
export function imageConfig(parts: ConfigParts = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: parts.architecture ?? 'amd64',
      os: parts.os ?? 'linux',
      ...(parts.variant === undefined ? {} : { variant: parts.variant }),
      config: { Env: [`NONCE=${randomBytes(8).toString('hex')}`], ...(parts.labels === undefined ? {} : { Labels: parts.labels }) },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
}

export interface ManifestParts {
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers?: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

/** The bytes of an image manifest. Indented with 3 spaces so a re-serialising server is caught. */
export function manifestBytes(parts: ManifestParts): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: parts.mediaType ?? MediaType.OciManifest,
    ...(parts.artifactType === undefined ? {} : { artifactType: parts.artifactType }),
    config: parts.config,
    layers: parts.layers ?? [],
    ...(parts.subject === undefined ? {} : { subject: parts.subject }),
    ...(parts.annotations === undefined ? {} : { annotations: parts.annotations }),
  };
  return Buffer.from(JSON.stringify(manifest, null, 3) + '\n');
}

export interface IndexParts {
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

/** The bytes of an image index or Docker manifest list. */
export function indexBytes(parts: IndexParts): Buffer {
  const index = {
    schemaVersion: 2,
    mediaType: parts.mediaType ?? MediaType.OciIndex,
    ...(parts.artifactType === undefined ? {} : { artifactType: parts.artifactType }),
    manifests: parts.manifests,
    ...(parts.subject === undefined ? {} : { subject: parts.subject }),
    ...(parts.annotations === undefined ? {} : { annotations: parts.annotations }),
  };
  return Buffer.from(JSON.stringify(index, null, 3) + '\n');
}

/** PUTs manifest bytes at a tag or digest; returns the raw response. */
export async function putManifest(
  app: App,
  repo: string,
  reference: string,
  content: Buffer,
  contentType: string = MediaType.OciManifest,
): Promise<Response> {
  return app.inject({
    method: 'PUT',
    url: `/v2/${repo}/manifests/${reference}`,
    headers: { 'content-type': contentType },
    payload: content,
  });
}

export interface PushedManifest {
  readonly content: Buffer;
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly descriptor: Descriptor;
}

/** PUTs a manifest and asserts 201; the reference defaults to the manifest's digest. */
export async function pushManifest(
  app: App,
  repo: string,
  content: Buffer,
  mediaType: string = MediaType.OciManifest,
  reference: string = digestOf(content),
): Promise<PushedManifest> {
  const res = await putManifest(app, repo, reference, content, mediaType);
  assert.equal(res.statusCode, 201, `PUT manifest ${reference} to ${repo}: ${res.statusCode} ${res.body}`);
  const digest = digestOf(content);
  return { content, digest, size: content.length, mediaType, descriptor: { mediaType, digest, size: content.length } };
}

export interface PushedImage extends PushedManifest {
  readonly config: PushedBlob;
  readonly layers: readonly PushedBlob[];
}

export interface ImageOptions extends ConfigParts {
  readonly tag?: string;
  readonly layerCount?: number;
  readonly docker?: boolean;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  readonly configMediaType?: string;
  readonly annotations?: Record<string, string>;
}

/** Pushes a config and layers, then an image manifest over them (OCI unless `docker`). */
export async function pushImage(app: App, repo: string, options: ImageOptions = {}): Promise<PushedImage> {
  const docker = options.docker ?? false;
  const config = await pushBlob(app, repo, imageConfig(options));
  const layers: PushedBlob[] = [];
  for (let i = 0; i < (options.layerCount ?? 1); i++) layers.push(await pushBlob(app, repo, randomBlob(128)));
  const mediaType = docker ? MediaType.DockerManifest : MediaType.OciManifest;
  const content = manifestBytes({
    mediaType,
    config: {
      mediaType: options.configMediaType ?? (docker ? MediaType.DockerConfig : MediaType.OciConfig),
      digest: config.digest,
      size: config.size,
    },
    layers: layers.map((l) => ({
      mediaType: docker ? MediaType.DockerLayerGzip : MediaType.OciLayerGzip,
      digest: l.digest,
      size: l.size,
    })),
    ...(options.subject === undefined ? {} : { subject: options.subject }),
    ...(options.artifactType === undefined ? {} : { artifactType: options.artifactType }),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  const pushed = await pushManifest(app, repo, content, mediaType, options.tag ?? digestOf(content));
  return { ...pushed, config, layers };
}

/** The OCI empty descriptor's content (`{}`), used as the config of artifacts. */
export const EMPTY_JSON = Buffer.from('{}');

/**
 * Pushes an artifact manifest (empty config unless `configMediaType` is given) that refers to
 * `subject`; the shape cosign, notation and oras push.
 */
export async function pushReferrer(
  app: App,
  repo: string,
  subject: Descriptor,
  options: { artifactType?: string; configMediaType?: string; annotations?: Record<string, string>; tag?: string } = {},
): Promise<PushedManifest> {
  const config =
    options.configMediaType === undefined
      ? await pushBlob(app, repo, EMPTY_JSON)
      : await pushBlob(app, repo, imageConfig());
  const layer = await pushBlob(app, repo, randomBlob(32));
  const content = manifestBytes({
    config: { mediaType: options.configMediaType ?? MediaType.OciEmpty, digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.example.payload', digest: layer.digest, size: layer.size }],
    subject,
    ...(options.artifactType === undefined ? {} : { artifactType: options.artifactType }),
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  return pushManifest(app, repo, content, MediaType.OciManifest, options.tag ?? digestOf(content));
}

/** A well-formed sha256 digest of content that was never pushed. */
export function absentDigest(): Digest {
  return digestOf(randomBytes(32));
}
