import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { NO_AUTH, type Authentication } from './auth/authentication.js';
import { TOKEN_PATH } from './auth/challenge.js';
import { retryAfterOf } from './auth/login-throttle.js';
import { answerClientError } from './client-errors.js';
import { ERROR_CODES, RegistryError } from './errors.js';
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  HEADER_TIMEOUT_CHECK_INTERVAL_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  MAX_PARSED_BODY_BYTES,
  MAX_URL_BYTES,
} from './http-limits.js';
import { Registry } from './registry.js';
import { RequestLog } from './request-log.js';
import { matchRoute, type Method } from './routes.js';
import { IN_MEMORY } from './search/search-database.js';
import { cutStalledConnections } from './stalled-connections.js';
import type { StorageDriver } from './storage/driver.js';
import type { TlsCredentials } from './tls-credentials.js';

export interface AppOptions {
  readonly storage: StorageDriver;
  /** The search index: a file, or `memory://` (the default; rebuilt from storage at every start). */
  readonly searchIndex?: string;
  /** fastify's logger option: false for tests, pino options for `wharf serve`. */
  readonly logger?: FastifyServerOptions['logger'];
  /** Serve HTTPS with these; plain HTTP (insecure-registry mode) without. */
  readonly tls?: TlsCredentials;
  /** How long a client may take to send a request's headers (default 30 s). */
  readonly headerTimeoutMs?: number;
  /** How long a connection may wait on its client with nothing moving (default 60 s). */
  readonly idleTimeoutMs?: number;
  /** Who may do what (default: no authentication, everyone may do everything). */
  readonly auth?: Authentication;
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: Registry;
  }
}

const METHODS: Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
// What a 503 tells clients while the search index is being built.
const RETRY_AFTER_SECONDS = 5;

/** Builds the registry's fastify app without listening, so tests can `inject` and `serve` can `listen`. */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const requestLog = new RequestLog();
  const auth = options.auth ?? NO_AUTH;
  const serverOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    connectionsCheckingInterval: HEADER_TIMEOUT_CHECK_INTERVAL_MS,
  };
  const app = fastify({
    logger: options.logger ?? false,
    logController: requestLog,
    exposeHeadRoutes: false,
    // Blob and manifest bodies are streamed or size-checked by their handlers; this bounds what fastify parses itself.
    bodyLimit: MAX_PARSED_BODY_BYTES,
    return503OnClosing: true,
    http: serverOptions,
    ...(options.tls ? { https: { ...serverOptions, cert: options.tls.cert, key: options.tls.key } } : {}),
    // No limit on a whole request: a 1 GiB push on a slow link is fine while its bytes keep moving.
    requestTimeout: 0,
    connectionTimeout: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    clientErrorHandler: answerClientError,
  });
  cutStalledConnections(app.server);
  const registry = new Registry(options.storage, { searchIndex: options.searchIndex ?? IN_MEMORY, log: app.log });
  app.decorate('registry', registry);
  registry.search.start();
  app.addHook('onClose', () => registry.search.close());

  // Handlers read request.raw themselves: blobs stream to storage, manifests are read with a size limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    if (request.url.length > MAX_URL_BYTES) {
      throw new RegistryError('UNSUPPORTED', `request URL is longer than ${MAX_URL_BYTES} bytes`, undefined, 414);
    }
  });

  app.addHook('onRequestAbort', async (request) => requestLog.requestAborted(request));
  app.setErrorHandler(async (error, request, reply) => {
    // A client that went away mid-request is no server error; its request line says enough.
    if (request.raw.destroyed || reply.raw.destroyed) return;
    const registryError = toRegistryError(error);
    if (registryError.status >= 500 && registryError.code !== 'UNAVAILABLE') request.log.error({ err: error }, 'request failed');
    if (reply.raw.headersSent) return;
    const retryAfter = registryError.code === 'UNAVAILABLE' ? RETRY_AFTER_SECONDS : retryAfterOf(registryError);
    if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
    // The v1 endpoints answer as the v1 registry did, {"error": "..."}; docker search shows only the status.
    const body = request.url.startsWith('/v1/') ? { error: registryError.message } : registryError.toEnvelope();
    reply.code(registryError.status).header('content-type', 'application/json').send(body);
  });
  app.setNotFoundHandler(async (request) => {
    throw new RegistryError('UNSUPPORTED', `no endpoint ${request.method} ${request.url.split('?')[0]}`, undefined, 404);
  });

  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?', 1)[0]!;
    const matched = matchRoute(path);
    if (!matched) throw new RegistryError('UNSUPPORTED', `no endpoint ${request.method} ${path}`, undefined, 404);
    const endpoint = matched.route.methods[request.method as Method];
    if (!endpoint) throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on ${path}`);
    const canPull = await auth.control.authorize(request, reply, endpoint.access, matched.params.name);
    await endpoint.handler({ request, reply, registry, params: matched.params, query: request.query as Record<string, string | undefined>, canPull });
    return reply;
  };
  for (const url of ['/v2/*', '/v1/*', '/api/v1/*']) app.route({ method: METHODS, url, handler: dispatch });
  const tokenEndpoint = auth.tokenEndpoint;
  if (tokenEndpoint) {
    app.get(TOKEN_PATH, (request, reply) => tokenEndpoint.get(request, reply));
    app.post(TOKEN_PATH, (request, reply) => tokenEndpoint.post(request, reply));
  }
  app.route({ method: METHODS, url: '/v2', handler: async (_request, reply) => reply.redirect('/v2/', 301) });
  return app;
}

/** Maps any failure to the OCI error it is answered with. */
function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = status === 413 ? 'SIZE_INVALID' : 'UNSUPPORTED';
    return new RegistryError(code, (error as Error).message, undefined, status);
  }
  return new RegistryError('UNKNOWN', ERROR_CODES.UNKNOWN.message);
}
