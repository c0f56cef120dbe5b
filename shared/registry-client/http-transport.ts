import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One HTTP exchange as the registry client makes it. */
export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent with the Content-Length the caller put in `headers`; a stream is piped with backpressure. */
  readonly body?: Buffer | Readable;
  /** The agent for an HTTPS URL: which CAs, client certificate and verification its host gets (see RegistryTls). */
  readonly httpsAgent: (url: URL) => Promise<https.Agent>;
  /** Follow 3xx answers to GET and HEAD, as blob downloads redirected to storage need. */
  readonly followRedirects?: boolean;
  /** A connection idle this long fails with ETIMEDOUT, so a stalled server cannot hang a build. */
  readonly idleTimeoutMs: number;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

// A keep-alive pool shared by every client: pulls and pushes make many requests to one host.
const HTTP_AGENT = new http.Agent({ keepAlive: true });

/** Sends a request and resolves with the response once its headers arrive; the caller consumes the body. */
export async function sendHttpRequest(request: HttpRequest): Promise<IncomingMessage> {
  let url = request.url;
  let headers = { ...request.headers };
  for (let redirects = 0; ; redirects++) {
    const agent = url.protocol === 'https:' ? await request.httpsAgent(url) : HTTP_AGENT;
    const response = await sendOnce(request, url, headers, agent);
    const location = response.headers.location;
    if (!request.followRedirects || !REDIRECT_STATUSES.has(response.statusCode ?? 0) || location === undefined) return response;
    if (redirects === MAX_REDIRECTS) {
      discardBody(response);
      throw new Error(`${request.method} ${request.url.href}: more than ${MAX_REDIRECTS} redirects`);
    }
    discardBody(response);
    const next = new URL(location, url);
    // Registry credentials are for the registry, not for the storage or CDN a blob redirects to.
    if (next.origin !== url.origin) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    url = next;
  }
}

/** Reads a whole (small) body, failing once it passes `limit` bytes. */
export async function readBody(response: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      response.destroy();
      throw new Error(`response body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Drops a body the caller does not need, so the connection can go back to the pool. */
export function discardBody(response: IncomingMessage): void {
  response.resume();
}

function sendOnce(request: HttpRequest, url: URL, headers: Record<string, string>, agent: http.Agent): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, { method: request.method, headers, agent }, resolve);
    outgoing.setTimeout(request.idleTimeoutMs, () => {
      outgoing.destroy(Object.assign(new Error(`${request.method} ${url.href}: no activity for ${request.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    outgoing.on('error', reject);
    const body = request.body;
    if (body === undefined || Buffer.isBuffer(body)) {
      outgoing.end(body);
    } else {
      // A server may answer (say 401) before reading the body; the response, not this pipe, tells the outcome.
      pipeline(body, outgoing).catch(() => body.destroy());
    }
  });
}
