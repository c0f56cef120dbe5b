import type { RequestContext } from './context.js';

/** GET /v2/ — tells clients this is a v2 registry (the API version header is set on every response). */
export async function checkVersion({ reply }: RequestContext): Promise<void> {
  reply.header('content-type', 'application/json').send('{}');
}
