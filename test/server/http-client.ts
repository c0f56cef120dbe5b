// Requests to a real server process over node:http, each answer read whole, and the upload
// steps the server tests build on them. Every request is bounded by a timeout.
import { request as httpRequest, type Agent, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { sha256 } from './sample-bytes.js';

const REQUEST_TIMEOUT_MS = 15_000;

/** An HTTP response read whole. */
export interface Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SendOptions {
  readonly headers?: Readonly<Record<string, string | number>>;
  readonly body?: Buffer | string;
  readonly timeoutMs?: number;
  /** A keep-alive agent to reuse connections; by default each request has its own connection. */
  readonly agent?: Agent;
}

/** The response to `req`, read whole; the request is destroyed if no complete response arrives within `timeoutMs`. */
export function readResponse(req: ClientRequest, what: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`${what}: no response within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
  });
}

/** One request, on a fresh connection unless `agent` is given (so nothing lingers after a test). */
export function send(baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<Response> {
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  const headers: Record<string, string | number> = { ...options.headers };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = body.length;
  const req = httpRequest(new URL(path, baseUrl), { method, headers, agent: options.agent ?? false });
  const response = readResponse(req, `${method} ${path}`, options.timeoutMs);
  req.end(body);
  return response;
}

/** The first OCI error code in a response body, or undefined. */
export function errorCode(res: Response): string | undefined {
  try {
    return (JSON.parse(res.body.toString('utf8')) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** The path and query of a Location header. */
export function locationPath(res: Response): string {
  const location = res.headers.location;
  if (typeof location !== 'string') throw new Error(`no Location header in ${JSON.stringify(res.headers)}`);
  const url = new URL(location, 'http://localhost');
  return url.pathname + url.search;
}

/** A path with a query parameter added. */
export function withQuery(path: string, key: string, value: string): string {
  const url = new URL(path, 'http://localhost');
  url.searchParams.append(key, value);
  return url.pathname + url.search;
}

/** Starts an upload session; returns its Location path. */
export async function startUpload(baseUrl: string, repository: string): Promise<string> {
  const res = await send(baseUrl, 'POST', `/v2/${repository}/blobs/uploads/`);
  if (res.status !== 202) throw new Error(`POST upload: expected 202, got ${res.status} ${res.body}`);
  return locationPath(res);
}

/** Pushes a whole blob in one POST ?digest= and returns its digest; throws unless 201. */
export async function pushBlob(baseUrl: string, repository: string, content: Buffer): Promise<string> {
  const digest = sha256(content);
  const res = await send(baseUrl, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    body: content,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`monolithic push: expected 201, got ${res.status} ${res.body}`);
  return digest;
}

/** The offset an upload session reports. Range 0-0 is read as empty: these tests never upload exactly one byte. */
export async function uploadOffset(baseUrl: string, location: string): Promise<{ res: Response; offset?: number }> {
  const res = await send(baseUrl, 'GET', location);
  if (res.status !== 204) return { res };
  const match = /^0-(\d+)$/.exec(String(res.headers.range));
  if (!match) throw new Error(`GET upload status: bad Range header ${res.headers.range}`);
  const last = Number(match[1]);
  return { res, offset: last === 0 ? 0 : last + 1 };
}
