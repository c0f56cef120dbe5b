import type { Socket } from 'node:net';

/**
 * The build server's wire format on its unix socket: frames of one type byte, a 32-bit big-endian
 * length and that many bytes. Output travels as raw bytes (a RUN step may print anything); the
 * request as JSON.
 */
export const FRAME = {
  /** client → server: the build to run (a BuildRequest as JSON). */
  request: 0x52,
  /** client → server: stop the build (the signal's name), as Ctrl-C would in-process. */
  cancel: 0x43,
  /** server → client: the build has started here. */
  accepted: 0x41,
  /** server → client: not here (busy with another build, or stale): build in-process. */
  declined: 0x44,
  stdout: 0x4f,
  stderr: 0x45,
  /** server → client: the exit code, as decimal text; the last frame. */
  exit: 0x58,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

const HEADER_BYTES = 5;

export function writeFrame(socket: Socket, type: FrameType, payload: string | Uint8Array = ''): void {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = type;
  header.writeUInt32BE(body.length, 1);
  // Two writes, not a concatenated copy of the payload (a RUN's output); cork sends them as one.
  socket.cork();
  socket.write(header);
  socket.write(body);
  socket.uncork();
}

/** Calls `onFrame` for each whole frame that arrives on `socket`, in order. */
export function readFrames(socket: Socket, onFrame: (type: number, payload: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER_BYTES) {
      const end = HEADER_BYTES + pending.readUInt32BE(1);
      if (pending.length < end) break;
      const type = pending[0]!;
      const payload = pending.subarray(HEADER_BYTES, end);
      pending = pending.subarray(end);
      onFrame(type, payload);
    }
  });
}
