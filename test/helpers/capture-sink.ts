import type { IncomingMessage, MessageSink, SessionRecord } from '../../src/store/types.js';

export type CaptureSink = MessageSink & {
  messages: IncomingMessage[];
  sessions: SessionRecord[];
  /** The messages a client sent, by its local port (several tests share one sink: never take "the last one"). */
  messagesFrom(clientPort: number | undefined): IncomingMessage[];
  /** The session of a client, by its local port; undefined until the server has recorded it. */
  sessionOf(clientPort: number | undefined): SessionRecord | undefined;
};

/** A MessageSink that keeps everything in arrays, for asserting the exact stored message. */
export function createCaptureSink(): CaptureSink {
  const messages: IncomingMessage[] = [];
  const sessions: SessionRecord[] = [];
  return {
    messages,
    sessions,
    messagesFrom: (port) => messages.filter((m) => m.connection.clientPort === port),
    sessionOf: (port) => sessions.find((s) => s.connection.clientPort === port),
    save: (m) => Promise.resolve(String(messages.push(m))),
    saveSession: (s) => {
      sessions.push(s);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
