import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** fastify's request logging reduced to one line per request, written when the response is done. */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      remote: request.ip,
      ...(error ? { err: error } : {}),
    };
    request.log.info(line, 'request');
  }
}
