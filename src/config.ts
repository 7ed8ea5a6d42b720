/**
 * The defaults a user can change, in one place: the numbers and paths behind the `mailwire server` flags (addresses,
 * ports, data dir, message and age limits, shutdown grace), the port the CLI's clients share with the server, the HTTP
 * API's parameters (page size, long-poll wait) and the client library's options. Plain data, no imports: any layer
 * may read it.
 *
 * Three kinds live elsewhere, on purpose:
 * - the SMTP limits (--max-message-size, --max-connections, --max-clients-per-ip, --max-recipients,
 *   --max-command-length, --max-line-length, --max-errors, --idle-timeout, --data-timeout) are DEFAULT_LIMITS in
 *   src/smtp/core/limits.ts, beside the RFC sections that set them, because the pure protocol core takes them;
 * - a choice among named values (--dialect simplified, --store sqlite, --log-format text, --workers 1) keeps its
 *   default beside the flag in src/cli/server-command.ts, where the choices are listed;
 * - flags that belong to one command alone and change no behaviour of the server (`mailwire bench`'s --size,
 *   --connections, …, `mailwire send`'s --timeout, --pipelining) keep their default beside the flag, in src/cli/.
 * (src/api-client/ keeps its own wait default beside its client.)
 */

// ---- where things listen --------------------------------------------------------------------------------------
export const DEFAULT_HOST = '127.0.0.1';
/** SMTP; the one constant the text lets server and client share. */
export const DEFAULT_PORT = 1025;
export const DEFAULT_HTTP_PORT = 8025;
/** POP3 and IMAP for mail clients: the standard ports plus 1000 (like 1025 for SMTP), free of root. */
export const DEFAULT_POP3_PORT = 1110;
export const DEFAULT_IMAP_PORT = 1143;

// ---- the store --------------------------------------------------------------------------------------------------
/** Directory of the SQLite store (--data-dir). */
export const DEFAULT_DATA_DIR = './data';
/** Messages kept, oldest pruned first (--max-messages); 0 = unlimited. */
export const DEFAULT_MAX_MESSAGES = 10_000;
/** Prune messages older than this (--max-age); 0 = keep forever. */
export const DEFAULT_MAX_AGE_MS = 0;
/** Longest a save may take before the client is told 451 and may try again (--store-timeout, StoreOptions.storeTimeoutMs). */
export const DEFAULT_STORE_TIMEOUT_MS = 30_000;
/** The store deadline in force: `storeTimeoutMs` when given (checked), else the default. The one place it is defaulted. */
export function storeTimeoutOf(options: Readonly<{ storeTimeoutMs?: number | undefined }>): number {
  const ms = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`storeTimeoutMs must be > 0, not ${ms}`);
  return ms;
}

// ---- stopping ---------------------------------------------------------------------------------------------------
/** How long a message in progress may take to finish once the server is asked to stop (--shutdown-grace). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

// ---- the HTTP API's parameters ----------------------------------------------------------------------------------
/** `limit` of a list request: absent, 50; at most 1000. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
/** `timeout` of /api/v1/messages/wait, in seconds: absent, 30; at most 300 (createWebApp's maxWaitSeconds). */
export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 300;
/** An SSE comment this often keeps proxies from closing an idle /api/v1/events stream (createWebApp's sseHeartbeatMs). */
export const SSE_HEARTBEAT_MS = 15_000;

// ---- the client library (src/client) -----------------------------------------------------------------------------
/** Bound on each wait (connect, TLS, each reply) when the caller names none (timeoutMs). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;
/** The name said in EHLO/HELO when the caller names none (clientName). */
export const DEFAULT_CLIENT_NAME = 'localhost';
