/**
 * New-mail notifications: one emitter handed to the server (which emits) and the web app (which listens), so
 * neither imports the other and the store imports neither.
 */
import { EventEmitter } from 'node:events';

/** `workspace`: whose message or session it is, when the emitter knows (issue 26); never sent to a client. */
export type MailwireEventMap = {
  'message-stored': Readonly<{ id: string; workspace?: string }>;
  'message-deleted': Readonly<{ id: string; workspace?: string }>;
  'session-ended': Readonly<{ id: string; workspace?: string }>;
  /** A relay (release) finished: the session recording it, the message, and how it went (the relay's last reply). */
  'relay-finished': Readonly<{ id: string; messageId: string; ok: boolean; result: string; workspace?: string }>;
};
export type MailwireEventName = keyof MailwireEventMap;
export const EVENT_NAMES: readonly MailwireEventName[] = ['message-stored', 'message-deleted', 'session-ended'];

export class MailwireEvents {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0); // every open SSE stream and long-poll listens
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends MailwireEventName>(name: K, listener: (payload: MailwireEventMap[K]) => void): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }

  emit<K extends MailwireEventName>(name: K, payload: MailwireEventMap[K]): void {
    this.#emitter.emit(name, payload);
  }

  listenerCount(name: MailwireEventName): number {
    return this.#emitter.listenerCount(name);
  }
}

export const createEvents = (): MailwireEvents => new MailwireEvents();
