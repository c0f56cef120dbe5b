import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Makes the server's idle timeout (no byte moving on a socket) cut only connections that wait on
 * their client: between requests, or in a request whose body stopped arriving, or whose response
 * the client stopped reading. One waiting on the registry itself (storage finishing a large copy
 * before the answer) is left alone, and a 1 GiB upload or download that keeps moving is never cut.
 */
export function cutStalledConnections(server: Server): void {
  const exchanges = new WeakMap<Socket, { request: IncomingMessage; response: ServerResponse }>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    exchanges.set(socket, { request, response });
    response.once('close', () => {
      if (exchanges.get(socket)?.response === response) exchanges.delete(socket);
    });
  });
  // With a listener on 'timeout', node no longer destroys the socket itself: this decides.
  server.on('timeout', (socket: Socket) => {
    const exchange = exchanges.get(socket);
    if (exchange === undefined || waitsOnClient(exchange.request, exchange.response, socket)) socket.destroy();
  });
}

function waitsOnClient(request: IncomingMessage, response: ServerResponse, socket: Socket): boolean {
  // Body bytes received but not yet consumed mean the registry is the slow side, not the client.
  if (!request.complete) return request.readableLength === 0 && socket.readableLength === 0;
  // Response bytes the kernel would not take mean the client stopped reading.
  return socket.writableLength > 0 || response.writableNeedDrain;
}
