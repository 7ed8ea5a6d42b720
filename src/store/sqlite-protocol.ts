/** Messages between SqliteStore (main thread) and its writer worker. Plain structured-clone data only. */
import type { Envelope } from '../protocol/types.js';
import type { SearchQuery } from './query.js';
import type { ConnectionInfo, SessionEnd, TranscriptLine } from './types.js';

export type WriteOp =
  | Readonly<{ op: 'message'; id: string; receivedAt: number; raw: Uint8Array; envelope: Envelope; connection: ConnectionInfo }>
  | Readonly<{
      op: 'session'; id: string; startedAt: number; endedAt: number; end: SessionEnd; connection: ConnectionInfo;
      messageIds: readonly string[]; transcript: readonly TranscriptLine[]; truncated: boolean;
    }>
  | Readonly<{ op: 'set-read'; id: string; read: boolean }>
  | Readonly<{ op: 'delete'; id: string }>
  | Readonly<{ op: 'delete-query'; query: SearchQuery }>;

/** Per op: `count` is rows affected (1 for a stored message), `ids` the ids a delete-query removed. */
export type OpResult = Readonly<{ ok: true; count: number; ids: string[] }> | Readonly<{ ok: false; error: string }>;

export type WorkerConfig = Readonly<{ file: string; maxMessages: number; maxAgeMs: number }>;

export type ToWorker =
  /** Ops numbered by the main thread; the worker commits whatever has arrived and been parsed, together. */
  | Readonly<{ type: 'ops'; ops: { n: number; op: WriteOp }[] }>
  | Readonly<{ type: 'prune'; request: number }>
  | Readonly<{ type: 'close' }>;

export type FromWorker =
  | Readonly<{ type: 'ready'; version: number }>
  | Readonly<{ type: 'open-failed'; error: string }>
  /** One transaction: `committed` false means it rolled back and every op in `ns` failed with `error`. */
  | Readonly<{ type: 'done'; committed: true; ns: number[]; results: OpResult[] }>
  | Readonly<{ type: 'done'; committed: false; ns: number[]; error: string }>
  | Readonly<{ type: 'pruned'; request: number; messages: number; sessions: number }>
  | Readonly<{ type: 'closed' }>;
