/**
 * The store's errors, one family under MailwireError (../errors.ts), each with a stable code. What the server and the
 * API make of each: StoreInputError → API 400; StoreFullError → SMTP 452; StoreUnavailableError (StoreClosedError
 * included) → SMTP 451, API 503; any other StoreWriteError → SMTP 451, API 500.
 */
import { MailwireError } from '../errors.js';

/** A caller's mistake the store can name: a malformed search query or cursor. The API answers these with 400. */
export class StoreInputError extends MailwireError {
  override name = 'StoreInputError';
  declare readonly code: 'ERR_BAD_QUERY' | 'ERR_BAD_CURSOR';
  constructor(code: 'ERR_BAD_QUERY' | 'ERR_BAD_CURSOR', message: string) {
    super(code, message);
  }
}

export class QueryError extends StoreInputError {
  override name = 'QueryError' as const;
  /** Character offset in the query where the problem starts. */
  readonly position: number;
  constructor(message: string, position: number) {
    super('ERR_BAD_QUERY', message);
    this.position = position;
  }
}

type StoreWriteCode = 'ERR_STORE_WRITE' | 'ERR_STORE_UNAVAILABLE' | 'ERR_STORE_CLOSED' | 'ERR_STORE_FULL';

/** The write path failed (an I/O error, a constraint): the server turns this into 451 4.3.0. */
export class StoreWriteError extends MailwireError {
  override name: string = 'StoreWriteError';
  declare readonly code: StoreWriteCode;
  constructor(message: string, options?: { cause?: unknown }, code: StoreWriteCode = 'ERR_STORE_WRITE') {
    super(code, message, options);
  }
}

/** The store cannot take the message now: database unreachable, writer died, save() past its deadline. SMTP 451 4.3.0, API 503. */
export class StoreUnavailableError extends StoreWriteError {
  override name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }, code: 'ERR_STORE_UNAVAILABLE' | 'ERR_STORE_CLOSED' = 'ERR_STORE_UNAVAILABLE') {
    super(message, options, code);
  }
}

/** The one way to say it, in errors and in health's reason: the store was closed (or is closing) and takes nothing more. */
export const STORE_CLOSED = 'store is closed';
export class StoreClosedError extends StoreUnavailableError {
  override name = 'StoreClosedError';
  constructor() {
    super(STORE_CLOSED, undefined, 'ERR_STORE_CLOSED');
  }
}

/** No room: disk full, SQLite max_page_count reached. SMTP 452 4.3.1, the session goes on. */
export class StoreFullError extends StoreWriteError {
  override name = 'StoreFullError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'ERR_STORE_FULL');
  }
}
