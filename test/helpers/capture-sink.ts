import type { IncomingMessage, MessageSink, SessionRecord } from '../../src/store/types.js';

/** A MessageSink that keeps everything in arrays, for asserting the exact stored message. */
export function createCaptureSink(): MessageSink & { messages: IncomingMessage[]; sessions: SessionRecord[] } {
  const messages: IncomingMessage[] = [];
  const sessions: SessionRecord[] = [];
  return {
    messages,
    sessions,
    save: (m) => Promise.resolve(String(messages.push(m))),
    saveSession: (s) => {
      sessions.push(s);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
