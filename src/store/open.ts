import { createDiscardSink } from './discard.js';
import { createMemoryStore } from './memory.js';
import { openSqliteStore } from './sqlite.js';
import type { MessageSink, MessageStore, StoreOptions } from './types.js';
import { DEFAULT_DATA_DIR, DEFAULT_MAX_AGE_MS, DEFAULT_MAX_MESSAGES } from '../config.js';

/** Opens the store `kind` names. 'none' gives a sink that keeps nothing (and has no query side). */
export function openStore(options: StoreOptions & { kind: 'sqlite' | 'memory' }): Promise<MessageStore>;
export function openStore(options: StoreOptions): Promise<MessageStore | MessageSink>;
export async function openStore(options: StoreOptions): Promise<MessageStore | MessageSink> {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (!Number.isSafeInteger(maxMessages) || maxMessages < 0) throw new RangeError(`maxMessages must be an integer ≥ 0, not ${maxMessages}`);
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new RangeError(`maxAgeMs must be ≥ 0, not ${maxAgeMs}`);
  switch (options.kind) {
    case 'sqlite':
      return openSqliteStore({ dataDir: options.dataDir ?? DEFAULT_DATA_DIR, maxMessages, maxAgeMs });
    case 'memory':
      return createMemoryStore({ maxMessages, maxAgeMs });
    case 'none':
      return createDiscardSink();
  }
}

/** True for stores with a query side (sqlite, memory), false for the discard sink. */
export function isMessageStore(s: MessageSink): s is MessageStore {
  return 'listMessages' in s && typeof (s as Partial<MessageStore>).listMessages === 'function';
}
