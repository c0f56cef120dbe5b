// Raw TCP connections to a server process, for what node:http will not send: bodies shorter or
// longer than declared, requests cut off midway, a port that should refuse connections.
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** A raw TCP connection to the server, for requests node:http will not send (short or long bodies, aborts). */
export async function rawConnect(port: number, timeoutMs = 5_000): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to 127.0.0.1:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return new RawConnection(socket);
}

/** A socket that records what the server sends back and when it closes. */
export class RawConnection {
  private received = Buffer.alloc(0);
  private readonly closedPromise: Promise<void>;
  private isClosed = false;
  error: Error | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('error', (error) => (this.error = error));
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Writes and resolves once the data is handed to the kernel. */
  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** What the server sent so far, as text. */
  text(): string {
    return this.received.toString('latin1');
  }

  closed(): boolean {
    return this.isClosed;
  }

  /** Resolves true when the server closed the connection within `timeoutMs`, else false. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.closedPromise.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when `predicate(text())` holds; rejects after `timeoutMs`. */
  async waitFor(predicate: (text: string) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.text())) {
      if (Date.now() > deadline) throw new Error(`raw connection: condition not met within ${timeoutMs} ms; received ${JSON.stringify(this.text().slice(0, 500))}`);
      if (this.isClosed) throw new Error(`raw connection closed; received ${JSON.stringify(this.text().slice(0, 500))}`);
      await delay(10);
    }
  }

  /** The status codes of the HTTP responses received so far. */
  statuses(): number[] {
    return [...this.text().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The head of a raw HTTP/1.1 request. */
export function requestHead(method: string, path: string, port: number, headers: Readonly<Record<string, string | number>> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Whether a TCP connection to the port is refused (true) or accepted (false). */
export function connectionRefused(port: number, timeoutMs = 3_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${port}: neither accepted nor refused within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve(true);
      else reject(error);
    });
  });
}
