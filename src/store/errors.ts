/** A caller's mistake the store can name: a malformed search query or cursor. The API answers these with 400. */
export class StoreInputError extends Error {
  override name = 'StoreInputError';
  readonly code: 'bad_query' | 'bad_cursor';
  constructor(code: 'bad_query' | 'bad_cursor', message: string) {
    super(message);
    this.code = code;
  }
}

export class QueryError extends StoreInputError {
  override name = 'QueryError' as const;
  /** Character offset in the query where the problem starts. */
  readonly position: number;
  constructor(message: string, position: number) {
    super('bad_query', message);
    this.position = position;
  }
}

/** The write path failed (an I/O error, a constraint): the server turns this into 451 4.3.0. */
export class StoreWriteError extends Error {
  override name: string = 'StoreWriteError';
  readonly code = 'ERR_STORE_WRITE';
}

/** The store cannot take the message now: database unreachable, writer died, save() past its deadline. SMTP 451 4.3.0, API 503. */
export class StoreUnavailableError extends StoreWriteError { override name = 'StoreUnavailableError' }

/** No room: disk full, SQLite max_page_count reached. SMTP 452 4.3.1, the session goes on. */
export class StoreFullError extends StoreWriteError { override name = 'StoreFullError' }
