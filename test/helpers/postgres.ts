/**
 * PostgreSQL for tests: the server on this machine (127.0.0.1:5432, trust, user postgres). Each call makes a database
 * of its own with a random name and drops it afterwards, so runs never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.MAILWIRE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type TestDatabase = Readonly<{ name: string; url: string; drop: () => Promise<void> }>;

/** Runs `sql` on the admin database (the one given by MAILWIRE_TEST_PG_URL, default database `test`). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `mailwire_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  // The store makes a role of the database's own for row-level security (issue 26): roles are cluster-wide, so it goes too.
  return {
    name, url: url.toString(),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await adminQuery(`DROP ROLE IF EXISTS mailwire_ws_${name}`);
    },
  };
}

/** Ends every connection to database `name` (as a database restart or a network cut would); resolves with how many. */
export async function terminateConnections(name: string): Promise<number> {
  const rows = await adminQuery<{ n: number }>(
    'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  return rows[0]?.n ?? 0;
}
