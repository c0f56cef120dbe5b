import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { TOKEN_PATH } from './auth/challenge.js';

// nginx's status for a request the client closed before it was answered.
const CLIENT_CLOSED_REQUEST = 499;

/** fastify's request logging reduced to one line per request, written when the response is done. */
export class RequestLog extends LogController {
  private readonly logged = new WeakSet<FastifyRequest>();

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.logged.has(request)) return;
    this.logged.add(request);
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    request.log.info({ ...requestLine(request, reply.statusCode), ms, ...(error ? { err: error } : {}) }, 'request');
  }

  /**
   * The line of a request whose client went away before the response was done, which fastify does
   * not log. A client may also close right as its response ends: the next turn tells which it was.
   */
  requestAborted(request: FastifyRequest): void {
    setImmediate(() => {
      if (this.logged.has(request)) return;
      this.logged.add(request);
      request.log.info(requestLine(request, CLIENT_CLOSED_REQUEST), 'request');
    });
  }
}

function requestLine(request: FastifyRequest, status: number) {
  return { method: request.method, url: loggedUrl(request.url), status, remote: request.ip };
}

/**
 * The URL as logged: a token request's query is left out, since clients may put credentials or
 * tokens there. Authorization headers and bodies are never logged.
 */
function loggedUrl(url: string): string {
  const path = url.split('?', 1)[0]!;
  return path === TOKEN_PATH ? path : url;
}
