/**
 * The server's display of what crosses the wire (spec: display every command and message line). One writer, one
 * format, every line tagged with the client's address and port so that interleaved clients can be told apart.
 */
export type Display = Readonly<{
  connected(tag: string): void;
  disconnected(tag: string, why: string): void;
  command(tag: string, text: string): void;
  messageLine(tag: string, text: string): void;
  reply(tag: string, text: string): void;
  info(text: string): void;
}>;

export function createConsoleDisplay(write: (line: string) => void): Display {
  return {
    connected: (tag) => write(`[${tag}] connected`),
    disconnected: (tag, why) => write(`[${tag}] disconnected (${why})`),
    command: (tag, text) => write(`[${tag}] C: ${text}`),
    messageLine: (tag, text) => write(`[${tag}] M: ${text}`),
    reply: (tag, text) => write(`[${tag}] S: ${text}`),
    info: (text) => write(text),
  };
}

const nothing = (): void => {};
export const quietDisplay: Display = {
  connected: nothing, disconnected: nothing, command: nothing, messageLine: nothing, reply: nothing, info: nothing,
};
