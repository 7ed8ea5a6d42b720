import type { Socket } from 'node:net';
import { plainAddress } from './ip-address.js';

export { plainAddress };
export { hostPort } from './host-port.js';

/** Both ends of a connection, as the client and the server see them. */
export type Peer = Readonly<{ clientAddress: string; clientPort: number; serverAddress: string; serverPort: number }>;

export const peerOf = (socket: Socket): Peer => ({
  clientAddress: plainAddress(socket.remoteAddress),
  clientPort: socket.remotePort ?? 0,
  serverAddress: plainAddress(socket.localAddress),
  serverPort: socket.localPort ?? 0,
});
