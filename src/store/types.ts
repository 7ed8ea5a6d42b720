/**
 * What the server hands to a store. The store knows nothing of sockets or HTTP; the server knows nothing of how a
 * store keeps things. Kept free of SQL-isms so that an embedded and a shared (PostgreSQL) store both fit.
 */
import type { Envelope } from '../protocol/types.js';

export type DialectName = 'simplified' | 'smtp';

/** Facts about the connection a message or session came over, recorded beside it. */
export type ConnectionInfo = Readonly<{
  clientAddress: string;
  clientPort: number;
  serverAddress: string;
  serverPort: number;
  dialect: DialectName;
  tls: boolean;
  /** The authenticated user name, when the client used AUTH. */
  authUser?: string;
}>;

export type IncomingMessage = Readonly<{
  envelope: Envelope;
  connection: ConnectionInfo;
  receivedAt: Date;
  /** The message exactly as received, after dot-unstuffing (and with a Received: header where the dialect adds one). */
  raw: Buffer;
}>;

/** One line of a session transcript. Message text is counted, never copied; AUTH arguments are redacted. */
export type TranscriptLine = Readonly<{
  /** Milliseconds since the epoch. */
  at: number;
  dir: 'client' | 'server' | 'info';
  text: string;
  /** On server lines: how long the server took to answer the command before it, in milliseconds. */
  responseMs?: number;
}>;

export type SessionEnd = 'quit' | 'client-closed' | 'timeout' | 'shutdown' | 'error' | 'refused';

export type SessionRecord = Readonly<{
  connection: ConnectionInfo;
  startedAt: Date;
  endedAt: Date;
  end: SessionEnd;
  /** Ids of the messages stored during the session. */
  messageIds: readonly string[];
  transcript: readonly TranscriptLine[];
  /** True when the transcript was cut at its cap. */
  truncated: boolean;
}>;

/** The part of a store the SMTP server uses. */
export interface MessageSink {
  /** Resolves with the message's id only once it is durable: the server sends its 250 after this, never before. */
  save(message: IncomingMessage): Promise<string>;
  /** Records a finished session; best effort, never delays a reply. */
  saveSession(session: SessionRecord): Promise<void>;
  close(): Promise<void>;
}
