import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { RegistryError } from './errors.js';
import { MAX_HEADER_BYTES } from './http-limits.js';

/**
 * fastify's clientErrorHandler: answers what node refuses before any route sees it (headers too
 * large, headers too slow, bytes that are not HTTP) with the OCI error envelope, then closes.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or already closed connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal = clientRefusal(error);
  if (socket.writable) {
    const body = JSON.stringify(refusal.toEnvelope());
    socket.write(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function clientRefusal(error: NodeJS.ErrnoException): RegistryError {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return new RegistryError('UNSUPPORTED', `request line and headers are larger than ${MAX_HEADER_BYTES} bytes`, undefined, 431);
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RegistryError('UNSUPPORTED', 'request headers did not arrive in time', undefined, 408);
  return new RegistryError('UNSUPPORTED', 'malformed HTTP request', undefined, 400);
}
