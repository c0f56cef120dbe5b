import fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ERROR_CODES, RegistryError } from './errors.js';
import { Registry } from './registry.js';
import { RequestLog } from './request-log.js';
import { matchRoute, type Method } from './routes.js';
import type { StorageDriver } from './storage/driver.js';

export interface AppOptions {
  readonly storage: StorageDriver;
  /** fastify's logger option: false for tests, pino options for `wharf serve`. */
  readonly logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    registry: Registry;
  }
}

const METHODS: Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Builds the registry's fastify app without listening, so tests can `inject` and `serve` can `listen`. */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const requestLog = new RequestLog();
  const app = fastify({
    logger: options.logger ?? false,
    logController: requestLog,
    exposeHeadRoutes: false,
    // Blob and manifest bodies are streamed or size-checked by their handlers, not by fastify.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: true,
  });
  const registry = new Registry(options.storage);
  app.decorate('registry', registry);

  // Handlers read request.raw themselves: blobs stream to storage, manifests are read with a size limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
  });

  app.addHook('onRequestAbort', async (request) => requestLog.requestAborted(request));
  app.setErrorHandler(async (error, request, reply) => {
    // A client that went away mid-request is no server error; its request line says enough.
    if (request.raw.destroyed || reply.raw.destroyed) return;
    const registryError = toRegistryError(error);
    if (registryError.status >= 500) request.log.error({ err: error }, 'request failed');
    if (reply.raw.headersSent) return;
    reply.code(registryError.status).header('content-type', 'application/json').send(registryError.toEnvelope());
  });
  app.setNotFoundHandler(async (request) => {
    throw new RegistryError('UNSUPPORTED', `no endpoint ${request.method} ${request.url.split('?')[0]}`, undefined, 404);
  });

  app.route({
    method: METHODS,
    url: '/v2/*',
    handler: async (request, reply) => {
      const path = request.url.split('?', 1)[0]!;
      const matched = matchRoute(path);
      if (!matched) throw new RegistryError('UNSUPPORTED', `no endpoint ${request.method} ${path}`, undefined, 404);
      const handler = matched.route.handlers[request.method as Method];
      if (!handler) throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on ${path}`);
      await handler({
        request,
        reply,
        registry,
        params: matched.params,
        query: request.query as Record<string, string | undefined>,
      });
      return reply;
    },
  });
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
