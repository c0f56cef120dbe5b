import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { digestOf, parseDigest, splitDigest, type Digest } from '../digest.js';
import { MANIFEST_MEDIA_TYPES } from '../media-types.js';
import { registryHost } from '../reference.js';
import { AuthenticationError, Authenticator, mergeScopes, repositoryScope } from './auth.js';
import { defaultDockerConfigPath, DockerCredentials } from './docker-config.js';
import { discardBody, readBody, sendHttpRequest } from './http-transport.js';
import { InsecureRegistries } from './insecure-registries.js';
import { RegistryResponseError } from './registry-error.js';
import { defaultCertsDirectory, RegistryTls, RegistryTlsError } from './registry-tls.js';
import { isTransientError, isTransientStatus, withRetry, type RetryPolicy } from './retry.js';

/** A repository on a registry; an ImageReference is one. */
export interface RemoteRepository {
  /** As references name it: `docker.io`, `ghcr.io`, `localhost:5000`. */
  readonly registry: string;
  readonly repository: string;
}

export interface RegistryClientOptions {
  /** `HOST[:PORT]` entries reached without TLS verification, falling back to HTTP; loopback hosts always are. */
  readonly insecureRegistries?: readonly string[];
  /** Where credentials (`auths`, `credsStore`, `credHelpers`) are read; default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  readonly dockerConfigPath?: string;
  /** PEM files of CAs trusted for every registry besides the system's. */
  readonly caFiles?: readonly string[];
  /** Docker's per-registry TLS folder (`HOST[:PORT]/*.crt`, `*.cert`, `*.key`); default `/etc/docker/certs.d` or `$WHARF_CERTS_D`. */
  readonly certsDirectory?: string;
  readonly userAgent?: string;
  /** Retries of a request failing with a network error, 408, 429 or 5xx; default 3. */
  readonly retries?: number;
  /** The first back-off before a retry, doubled each time; default 200 ms. */
  readonly retryDelayMs?: number;
  /** A connection with no traffic for this long fails (and is retried); default 60 s. */
  readonly idleTimeoutMs?: number;
}

/** A manifest as a registry served it: exact bytes, their digest, and the media type. */
export interface FetchedManifest {
  readonly content: Buffer;
  readonly digest: Digest;
  readonly mediaType: string;
}

/** What uploadBlob had to do. */
export type BlobUploadOutcome = 'exists' | 'mounted' | 'uploaded';

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';

interface RegistryRequest {
  readonly method: Method;
  /** `/v2/…`, or an absolute upload URL from a Location header. */
  readonly path: string;
  readonly scopes: readonly string[];
  /** Statuses that are answers rather than errors. */
  readonly expect: readonly number[];
  readonly headers?: Readonly<Record<string, string>>;
  /** Opened anew for every attempt, since a stream can be sent only once. */
  readonly body?: () => Promise<Buffer | Readable>;
}

/** Where a host's API answers: HTTPS, or HTTP for an insecure registry whose HTTPS failed. */
interface Endpoint {
  readonly origin: string;
}

// containerd's limit: manifests are small, and an endless body must not exhaust memory.
const MANIFEST_LIMIT = 4 * 1024 * 1024;

// OpenSSL's verdicts that a trusted CA would cure (an expired or misnamed certificate would not).
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

// TLS alerts by which a server turns down the client certificate we sent, or our sending none.
const CLIENT_CERTIFICATE_REFUSED = new Set(['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA']);

/**
 * Speaks the distribution API to any registry: finds each host's scheme with one `GET /v2/`,
 * authenticates (Basic or Bearer tokens, credentials from the Docker config or its credential
 * helpers), trusts CAs and presents client certificates as Docker does, retries transient
 * failures, and follows blob redirects. Higher-level pull and push live in remote-image.ts and push.ts.
 */
export class RegistryClient {
  readonly retryPolicy: RetryPolicy;
  private readonly insecure: InsecureRegistries;
  private readonly tls: RegistryTls;
  private readonly certsDirectory: string;
  private readonly auth: Authenticator;
  private readonly dockerConfigPath: string;
  private readonly userAgent: string;
  private readonly idleTimeoutMs: number;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private credentials?: Promise<DockerCredentials>;

  constructor(options: RegistryClientOptions = {}) {
    this.insecure = new InsecureRegistries(options.insecureRegistries);
    this.certsDirectory = options.certsDirectory ?? defaultCertsDirectory();
    this.tls = new RegistryTls({ insecure: this.insecure, certsDirectory: this.certsDirectory, caFiles: options.caFiles ?? [] });
    this.dockerConfigPath = options.dockerConfigPath ?? defaultDockerConfigPath();
    this.userAgent = options.userAgent ?? 'wharf';
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.retryPolicy = { retries: options.retries ?? 3, baseDelayMs: options.retryDelayMs ?? 200 };
    this.auth = new Authenticator(
      async (registry) => (await this.dockerCredentials()).get(registry),
      (method, url, headers, body) =>
        withRetry(this.retryPolicy, async () => {
          const response = await this.exchange(method, url, headers, body, false);
          if (isTransientStatus(response.statusCode ?? 0)) throw await RegistryResponseError.from(method, url, response);
          return response;
        }),
    );
  }

  /** Fetches a manifest or index by tag or digest; a digest reference is verified against the bytes. */
  async getManifest(repo: RemoteRepository, reference: string, accept: readonly string[] = MANIFEST_MEDIA_TYPES): Promise<FetchedManifest> {
    return withRetry(this.retryPolicy, async () => {
      const { response, url } = await this.send(repo.registry, {
        method: 'GET',
        path: `/v2/${repo.repository}/manifests/${reference}`,
        scopes: [repositoryScope(repo.repository, 'pull')],
        expect: [200],
        headers: { accept: accept.join(', ') },
      });
      const content = await readBody(response, MANIFEST_LIMIT);
      const pinned = reference.includes(':') ? parseDigest(reference) : undefined;
      const digest = digestOf(content, pinned ? splitDigest(pinned)[0] : 'sha256');
      if (pinned && digest !== pinned) throw new Error(`GET ${url.href}: the registry sent a manifest with digest ${digest}`);
      const mediaType = (response.headers['content-type'] ?? '').split(';')[0]!.trim();
      return { content, digest, mediaType };
    });
  }

  /** The size of a blob in the repository (0 if the registry does not say), or undefined when it is not there. */
  async headBlob(repo: RemoteRepository, digest: Digest): Promise<number | undefined> {
    return this.blobSize(repo, digest, [repositoryScope(repo.repository, 'pull')]);
  }

  /** A blob's bytes, following the registry's redirect to storage if it sends one. Not verified here. */
  async getBlob(repo: RemoteRepository, digest: Digest): Promise<Readable> {
    const { response } = await withRetry(this.retryPolicy, () =>
      this.send(repo.registry, {
        method: 'GET',
        path: `/v2/${repo.repository}/blobs/${digest}`,
        scopes: [repositoryScope(repo.repository, 'pull')],
        expect: [200],
      }),
    );
    return response;
  }

  /**
   * Makes a blob exist in `repo`: nothing if a HEAD finds it, a cross-repository mount when
   * `mountFrom` (a repository on the same registry) has it, else a POST and one streamed PUT.
   */
  async uploadBlob(
    repo: RemoteRepository,
    blob: { readonly digest: Digest; readonly size: number },
    open: () => Promise<Readable>,
    options: { readonly mountFrom?: string } = {},
  ): Promise<BlobUploadOutcome> {
    const scopes = [repositoryScope(repo.repository, 'pull,push')];
    if (options.mountFrom !== undefined) scopes.push(repositoryScope(options.mountFrom, 'pull'));
    if ((await this.blobSize(repo, blob.digest, scopes)) !== undefined) return 'exists';

    // An upload session does not survive every failure, so a retry starts over from the POST.
    return withRetry(this.retryPolicy, async () => {
      const mount = options.mountFrom === undefined ? '' : `?mount=${blob.digest}&from=${encodeURIComponent(options.mountFrom)}`;
      const started = await this.send(repo.registry, {
        method: 'POST',
        path: `/v2/${repo.repository}/blobs/uploads/${mount}`,
        scopes,
        expect: [201, 202],
      });
      discardBody(started.response);
      if (started.response.statusCode === 201) return 'mounted';

      const location = started.response.headers.location;
      if (location === undefined) throw new Error(`POST ${started.url.href}: the registry started an upload without a Location`);
      const session = new URL(location, started.url);
      session.searchParams.set('digest', blob.digest);
      const { response } = await this.send(repo.registry, {
        method: 'PUT',
        path: session.href,
        scopes,
        expect: [201],
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: open,
      });
      discardBody(response);
      return 'uploaded';
    });
  }

  /** Stores a manifest under a tag or its digest; returns its (sha256) digest. */
  async putManifest(repo: RemoteRepository, reference: string, content: Buffer, mediaType: string): Promise<Digest> {
    const { response } = await withRetry(this.retryPolicy, () =>
      this.send(repo.registry, {
        method: 'PUT',
        path: `/v2/${repo.repository}/manifests/${reference}`,
        scopes: [repositoryScope(repo.repository, 'pull,push')],
        expect: [201],
        headers: { 'content-type': mediaType, 'content-length': String(content.length) },
        body: async () => content,
      }),
    );
    discardBody(response);
    return digestOf(content);
  }

  private async blobSize(repo: RemoteRepository, digest: Digest, scopes: readonly string[]): Promise<number | undefined> {
    const { response } = await withRetry(this.retryPolicy, () =>
      this.send(repo.registry, { method: 'HEAD', path: `/v2/${repo.repository}/blobs/${digest}`, scopes, expect: [200, 404] }),
    );
    discardBody(response);
    if (response.statusCode !== 200) return undefined;
    // distribution always sends the length; a registry that does not still has the blob.
    const length = Number(response.headers['content-length']);
    return Number.isSafeInteger(length) ? length : 0;
  }

  /**
   * One request with authentication: the header the host's known challenge calls for, and after a
   * 401 one more try with a token for the scopes the challenge names. Throws on an unexpected status.
   */
  private async send(registry: string, request: RegistryRequest): Promise<{ response: IncomingMessage; url: URL }> {
    const host = registryHost(registry);
    const endpoint = await this.endpoint(host);
    const url = new URL(request.path, endpoint.origin);
    // Credentials go only to the registry itself, never to an upload URL on another origin.
    const ownOrigin = url.origin === endpoint.origin;
    const attempt = async (authorization: string | undefined) =>
      this.exchange(request.method, url, {
        ...request.headers,
        ...(authorization === undefined ? {} : { authorization }),
        ...(request.body === undefined && (request.method === 'POST' || request.method === 'PUT') ? { 'content-length': '0' } : {}),
      }, await request.body?.(), request.method === 'GET' || request.method === 'HEAD');

    const first = ownOrigin ? await this.auth.authorization(host, registry, request.scopes) : undefined;
    let response = await attempt(first);
    if (response.statusCode === 401 && ownOrigin) {
      const challenge = response.headers['www-authenticate'];
      discardBody(response);
      const askedScopes = challenge === undefined ? [] : this.auth.challenged(host, challenge);
      const authorization = await this.auth.authorization(host, registry, mergeScopes(request.scopes, askedScopes), first);
      const credentials = await this.dockerCredentials();
      const noCredentials = () => new AuthenticationError(`${registry} requires authentication and ${credentials.sourceFor(registry)} has no usable credentials for it (docker login ${registry})`);
      if (authorization === undefined) throw noCredentials();
      response = await attempt(authorization);
      if (response.statusCode === 401) {
        const error = await RegistryResponseError.from(request.method, url, response);
        // An anonymous token the registry still refuses: what is missing is a login, not a better one.
        if ((await credentials.get(registry)) === undefined) throw noCredentials();
        throw new AuthenticationError(`${registry} refused the credentials from ${credentials.sourceFor(registry)}: ${error.message}`);
      }
    }
    if (!request.expect.includes(response.statusCode ?? 0)) throw await RegistryResponseError.from(request.method, url, response);
    return { response, url };
  }

  private exchange(method: string, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined, followRedirects: boolean): Promise<IncomingMessage> {
    return sendHttpRequest({
      method,
      url,
      headers: { 'user-agent': this.userAgent, ...headers },
      body,
      httpsAgent: (target) => this.tls.agentFor(target.host),
      followRedirects,
      idleTimeoutMs: this.idleTimeoutMs,
    });
  }

  /** The host's endpoint, found once by pinging `/v2/` (which also tells whether and how it wants authentication). */
  private endpoint(host: string): Promise<Endpoint> {
    let endpoint = this.endpoints.get(host);
    if (!endpoint) {
      endpoint = this.ping(host);
      this.endpoints.set(host, endpoint);
      endpoint.catch(() => this.endpoints.delete(host));
    }
    return endpoint;
  }

  private async ping(host: string): Promise<Endpoint> {
    const insecure = this.insecure.has(host);
    let response: IncomingMessage;
    let origin = `https://${host}`;
    try {
      response = await this.exchange('GET', new URL('/v2/', origin), {}, undefined, false);
    } catch (error) {
      // As Docker does for insecure registries: HTTPS failed to connect or handshake, so try plain HTTP.
      if (!insecure || error instanceof RegistryTlsError) throw this.httpsFailure(host, error);
      origin = `http://${host}`;
      response = await this.exchange('GET', new URL('/v2/', origin), {}, undefined, false);
    }
    if (isTransientStatus(response.statusCode ?? 0)) throw await RegistryResponseError.from('GET', new URL('/v2/', origin), response);
    discardBody(response);
    const challenge = response.headers['www-authenticate'];
    if (response.statusCode === 401 && challenge !== undefined) this.auth.challenged(host, challenge);
    return { origin };
  }

  /** Why HTTPS to a host failed, with what to do about it when the TLS handshake is the reason. */
  private httpsFailure(host: string, error: unknown): unknown {
    if (isTransientError(error) || error instanceof RegistryTlsError) return error;
    const { code, reason, message } = error as NodeJS.ErrnoException & { reason?: string };
    if (UNTRUSTED_CERTIFICATE.has(code ?? '')) {
      return new Error(
        `https://${host}/v2/: the registry's certificate is not trusted (${message}): add its CA as ${join(this.certsDirectory, host, 'ca.crt')} or with --registry-ca FILE, or pass --insecure-registry ${host}`,
      );
    }
    if (CLIENT_CERTIFICATE_REFUSED.has(code ?? '')) {
      return new Error(`https://${host}/v2/: the registry refused the TLS handshake (${reason ?? message}): it wants a client certificate it trusts, as ${join(this.certsDirectory, host)}/NAME.cert with NAME.key`);
    }
    return new Error(`cannot reach https://${host}/v2/: ${reason ?? message} (for a registry without trusted TLS, pass --insecure-registry ${host})`);
  }

  private dockerCredentials(): Promise<DockerCredentials> {
    this.credentials ??= DockerCredentials.load(this.dockerConfigPath);
    return this.credentials;
  }
}
