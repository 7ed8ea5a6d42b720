/**
 * Server-sent WebSocket streams (RFC 6455), for Mailpit's /api/events: the server writes text frames; from the client
 * it reads only close and ping. An upgrade request goes through the web app like any GET (guard, auth, routes): a
 * route that takes it answers with acceptWebSocket(), and the HTTP server (./server.ts) then completes the handshake
 * on the socket; any other answer is written back as plain HTTP and the socket closed.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';

export type WebSocketStream = Readonly<{
  /** Sends one text message; a client that reads too slowly (over MAX_BUFFERED bytes waiting) is disconnected. */
  send(text: string): void;
  /** Called once, when the connection ends for any reason. */
  onClose(listener: () => void): void;
  close(): void;
}>;

/** A client's frames larger than this end the connection (1009): it has nothing to say but close and ping. */
const MAX_CLIENT_FRAME = 4096;
/** Unsent bytes past this mean a client that does not read: it is disconnected rather than buffered for. */
const MAX_BUFFERED = 4 * 1024 * 1024;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MARKER = 'x-mailwire-websocket';

const pending = new WeakMap<Request, (stream: WebSocketStream) => void>();

/** A route's answer taking the upgrade: `open` gets the stream once the handshake is done. */
export function acceptWebSocket(request: Request, open: (stream: WebSocketStream) => void): Response {
  pending.set(request, open);
  return new Response(null, { status: 200, headers: { [MARKER]: 'accept' } });
}

export const isWebSocketUpgrade = (request: Request): boolean =>
  request.method === 'GET' && /\bwebsocket\b/i.test(request.headers.get('upgrade') ?? '') && /\bupgrade\b/i.test(request.headers.get('connection') ?? '');

/**
 * Completes an upgrade the app answered: the handshake and the stream when a route accepted it (and the request is a
 * valid version-13 upgrade), else the app's answer as plain HTTP, and the socket closed.
 */
export async function finishUpgrade(request: Request, answer: Response, socket: Duplex): Promise<void> {
  const open = pending.get(request);
  pending.delete(request);
  const key = request.headers.get('sec-websocket-key') ?? '';
  if (answer.headers.get(MARKER) !== 'accept' || open === undefined) return refuse(socket, answer.status, await answer.text());
  if (request.headers.get('sec-websocket-version') !== '13' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return refuse(socket, 400, 'Bad Request: a WebSocket upgrade needs Sec-WebSocket-Version 13 and a Sec-WebSocket-Key');
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  open(stream(socket));
}

function refuse(socket: Duplex, status: number, text: string): void {
  const body = Buffer.from(text.slice(0, 1000), 'utf8');
  socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Refused'}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.byteLength}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`);
}

/** One frame from the server: FIN, the opcode, unmasked. */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.byteLength;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

function stream(socket: Duplex): WebSocketStream {
  const listeners: (() => void)[] = [];
  let closed = false;
  let buffered = Buffer.alloc(0);
  const end = (): void => {
    if (closed) return;
    closed = true;
    for (const l of listeners.splice(0)) l();
  };
  const closeWith = (code: number): void => {
    if (closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    socket.end(serverFrame(0x8, payload));
    end();
  };
  socket.on('close', end);
  socket.on('error', end);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    // Bounded: each pass takes one whole frame off the buffer, which holds at most one frame's bytes.
    for (let i = 0; i < 1000 && !closed; i++) {
      if (buffered.byteLength < 2) return;
      const b0 = buffered[0] ?? 0;
      const b1 = buffered[1] ?? 0;
      const masked = (b1 & 0x80) !== 0;
      let length = b1 & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffered.byteLength < 4) return;
        length = buffered.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        return closeWith(1009);
      }
      if (!masked) return closeWith(1002); // RFC 6455 5.1: a client's frames are masked
      if (length > MAX_CLIENT_FRAME) return closeWith(1009);
      if (buffered.byteLength < at + 4 + length) return;
      const mask = buffered.subarray(at, at + 4);
      const payload = Buffer.from(buffered.subarray(at + 4, at + 4 + length));
      for (let j = 0; j < payload.byteLength; j++) payload[j] = (payload[j] ?? 0) ^ (mask[j % 4] ?? 0);
      buffered = buffered.subarray(at + 4 + length);
      const opcode = b0 & 0x0f;
      if (opcode === 0x8) return closeWith(1000);
      if (opcode === 0x9 && length <= 125) socket.write(serverFrame(0xa, payload));
      // text, binary, pong and continuation frames: nothing to act on
    }
  });
  return {
    send: (text) => {
      if (closed) return;
      if (socket.writableLength > MAX_BUFFERED) return closeWith(1008);
      socket.write(serverFrame(0x1, Buffer.from(text, 'utf8')));
    },
    onClose: (listener) => {
      if (closed) listener();
      else listeners.push(listener);
    },
    close: () => closeWith(1001),
  };
}
