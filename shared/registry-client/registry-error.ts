import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { discardBody, readBody } from './http-transport.js';

/** One entry of the OCI error envelope (`{"errors":[{"code","message"}]}`). */
export interface RegistryErrorDetail {
  readonly code: string;
  readonly message: string;
}

// Error bodies are short; a registry that sends more is not telling us anything useful.
const ERROR_BODY_LIMIT = 64 * 1024;

/** A registry answered with an unexpected status; carries the OCI error codes it gave, if any. */
export class RegistryResponseError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errors: readonly RegistryErrorDetail[],
  ) {
    const detail = errors.length > 0 ? errors.map((e) => `${e.code}: ${e.message}`).join('; ') : httpStatusText(status);
    super(`${method} ${url}: ${status} ${detail}`);
  }

  /** The first OCI error code (`MANIFEST_UNKNOWN`, `DENIED`, …), if the registry sent one. */
  get code(): string | undefined {
    return this.errors[0]?.code;
  }

  /** Builds the error from a response, reading its envelope. */
  static async from(method: string, url: URL, response: IncomingMessage): Promise<RegistryResponseError> {
    // A HEAD answer has no body, but must still be read to its end to free the connection.
    if (method === 'HEAD') discardBody(response);
    const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(response, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
    return new RegistryResponseError(method, redacted(url), response.statusCode ?? 0, parseEnvelope(body));
  }
}

function parseEnvelope(body: Buffer): RegistryErrorDetail[] {
  try {
    const errors = (JSON.parse(body.toString('utf8')) as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is { code: string; message?: unknown } => typeof (e as { code?: unknown })?.code === 'string')
      .map((e) => ({ code: e.code, message: typeof e.message === 'string' ? e.message : '' }));
  } catch {
    return [];
  }
}

function httpStatusText(status: number): string {
  return (STATUS_CODES[status] ?? 'unexpected response').toLowerCase();
}

// Upload locations and redirects can carry signed query strings; they do not belong in an error message.
function redacted(url: URL): string {
  return url.search === '' ? url.href : `${url.origin}${url.pathname}?…`;
}
