/**
 * What every PostgreSQL connection of the store shares, on the SMTP thread and on the indexer thread: how a connection
 * is opened, how a transaction begins, how a lost database is told from a wrong statement, and the ordered values
 * drawn under an advisory lock (see postgres-schema.ts for why listings page on them).
 */
import { Socket } from 'node:net';
import pg from 'pg';
import type { PoolClient, PoolConfig } from 'pg';
import { LOCK_CLASS, SCHEMA } from './schema.js';

/** How much longer than the server's statement_timeout the client waits before it gives up on a query. */
const QUERY_TIMEOUT_MARGIN_MS = 2000;

/** What every connection of the store is opened with: its schema first, and durable commits unless a transaction says otherwise. */
export function clientConfig(databaseUrl: string, queryTimeoutMs: number): PoolConfig {
  return {
    connectionString: databaseUrl,
    application_name: 'mailwire',
    options: `-c search_path=${SCHEMA},public -c synchronous_commit=on`,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    // No statement runs longer than a save may wait (storeTimeoutMs): PostgreSQL cancels it itself, so a statement the
    // client gave up on never commits later (a save's INSERT is one implicit transaction: a client-side timeout alone
    // answered 451 while the server went on and committed it once a lock went). The client's own timeout comes
    // QUERY_TIMEOUT_MARGIN_MS later, for a database that does not answer at all: the query fails and its connection is
    // dropped (no SQLSTATE: see unavailable) instead of holding a pooled connection for ever. The LISTEN connection uses
    // this config too; the timeout covers only its LISTEN statement, not the wait for notifications.
    statement_timeout: queryTimeoutMs,
    query_timeout: queryTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    // A claim by an instance that hangs (not dies: that closes its connection) is given back after this.
    idle_in_transaction_session_timeout: 120_000,
    // bigint columns (seq, received_at) as numbers: all stay far below 2^53.
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser },
    stream: corkingSocket,
  };
}

/**
 * A socket that sends the writes of one tick in one system call. pg writes each statement as five protocol messages
 * (parse, bind, describe, execute, sync), each its own write to the socket and its own wake-up of the backend. At
 * 20 connections × 1 KB, `writev` fell from 945 to 747 ms of this process's samples per 20,000 messages.
 */
function corkingSocket(): Socket {
  const socket = new Socket();
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as typeof socket.write;
  return socket;
}

/** A durable transaction (the server's setting is overridden per connection: see clientConfig). */
export const BEGIN_DURABLE = 'BEGIN';
/** A transaction whose commit is not waited for on disk: what it writes can be rebuilt, or is diagnostics. */
export const BEGIN_ASYNC = 'BEGIN; SET LOCAL synchronous_commit = off';

/**
 * Takes the advisory transaction lock `key` (held until the commit), then draws `n` values of `sequence`, in order:
 * one round trip. The lock comes first because the values are drawn per row of a join with the lock's own row.
 */
export async function nextValuesHolding(c: PoolClient, key: number, sequence: string, n: number): Promise<number[]> {
  const r = await c.query<{ v: number }>({
    name: `mw_next_${sequence}`,
    text: `SELECT nextval('${sequence}') AS v FROM (SELECT pg_advisory_xact_lock($2, $3)) AS held, generate_series(1, $1)`,
    values: [n, LOCK_CLASS, key],
  });
  return r.rows.map((row) => row.v).sort((a, b) => a - b);
}

/**
 * True when the error says the database cannot be reached or is going away, rather than that our statement was wrong:
 * no SQLSTATE at all (refused, reset, terminated, timed out), or class 08 (connection), 57 (operator intervention:
 * shutdown, terminated backend), 53 (insufficient resources: too many connections), 3D000 (no such database).
 */
export function unavailable(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57') || code.startsWith('53') || code === '3D000';
}

export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message || e.name : String(e);
}
