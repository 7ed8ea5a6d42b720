import { createDiscardSink } from './discard.js';
import { createMemoryStore } from './memory/store.js';
import { openPostgresStore } from './postgres/store.js';
import { openSqliteStore, type SqliteTesting } from './sqlite/store.js';
import type { MessageSink, MessageStore, StoreOptions } from './types.js';
import { DEFAULT_DATA_DIR, DEFAULT_MAX_AGE_MS, DEFAULT_MAX_MESSAGES, storeTimeoutOf } from '../config.js';

/** Opens the store `kind` names. 'none' gives a sink that keeps nothing (and has no query side). */
/** What a store's caller may add for tests only (the SQLite store's hooks; other stores ignore them). */
export type OpenOptions = StoreOptions & Readonly<{ testing?: SqliteTesting }>;

export function openStore(options: OpenOptions & { kind: 'sqlite' | 'memory' | 'postgres' }): Promise<MessageStore>;
export function openStore(options: OpenOptions): Promise<MessageStore | MessageSink>;
export async function openStore(options: OpenOptions): Promise<MessageStore | MessageSink> {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  if (!Number.isSafeInteger(maxMessages) || maxMessages < 0) throw new RangeError(`maxMessages must be an integer ≥ 0, not ${maxMessages}`);
  const maxMessagesPerInbox = options.maxMessagesPerInbox ?? 0;
  if (!Number.isSafeInteger(maxMessagesPerInbox) || maxMessagesPerInbox < 0) {
    throw new RangeError(`maxMessagesPerInbox must be an integer ≥ 0, not ${maxMessagesPerInbox}`);
  }
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) throw new RangeError(`maxAgeMs must be ≥ 0, not ${maxAgeMs}`);
  const storeTimeoutMs = storeTimeoutOf(options);
  if (options.segmentSize !== undefined && (!Number.isSafeInteger(options.segmentSize) || options.segmentSize < 4096)) {
    throw new RangeError(`segmentSize must be at least 4096 bytes (e.g. --segment-size 64MiB), not ${options.segmentSize}`);
  }
  switch (options.kind) {
    case 'sqlite':
      return openSqliteStore({
        dataDir: options.dataDir ?? DEFAULT_DATA_DIR, maxMessages, maxMessagesPerInbox, maxAgeMs, storeTimeoutMs,
        ...(options.segmentSize === undefined ? {} : { segmentSize: options.segmentSize }),
        ...(options.testing === undefined ? {} : { testing: options.testing }),
      });
    case 'memory':
      return createMemoryStore({ maxMessages, maxMessagesPerInbox, maxAgeMs });
    case 'postgres':
      if (options.databaseUrl === undefined || options.databaseUrl === '') throw new RangeError('the postgres store needs a database URL (postgres://…)');
      return openPostgresStore({ databaseUrl: options.databaseUrl, maxMessages, maxMessagesPerInbox, maxAgeMs, storeTimeoutMs });
    case 'none':
      return createDiscardSink();
  }
}

/** True for stores with a query side (sqlite, memory, postgres), false for the discard sink. */
export function isMessageStore(s: MessageSink): s is MessageStore {
  return 'listMessages' in s && typeof (s as Partial<MessageStore>).listMessages === 'function';
}
