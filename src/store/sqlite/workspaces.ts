/**
 * The SQLite store's workspaces (../workspace.ts): a table in a small database of its own beside mailwire.sqlite
 * (`workspaces.sqlite`), read and written on the main thread. Workspaces change rarely (an admin's request, a start),
 * so they stay off the writer thread and its group commit; each change is one synchronous, durable transaction.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Workspace, WorkspaceRegistry } from '../workspace.js';

export const WORKSPACES_FILE_NAME = 'workspaces.sqlite';

export class SqliteWorkspaceRegistry implements WorkspaceRegistry {
  readonly #file: string;
  /** Opened at the first write, or at a read once the file exists: a store without workspaces makes no file. */
  #handle: Database.Database | null = null;

  constructor(dataDir: string) {
    this.#file = join(dataDir, WORKSPACES_FILE_NAME);
  }

  get #db(): Database.Database {
    if (this.#handle === null) {
      const db = new Database(this.#file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec('CREATE TABLE IF NOT EXISTS workspaces (name TEXT PRIMARY KEY, doc TEXT NOT NULL)');
      this.#handle = db;
    }
    return this.#handle;
  }

  async list(): Promise<Workspace[]> {
    if (this.#handle === null && !existsSync(this.#file)) return [];
    const rows = this.#db.prepare('SELECT doc FROM workspaces ORDER BY name').pluck().all() as string[];
    return rows.map((d) => JSON.parse(d) as Workspace);
  }

  async put(workspace: Workspace): Promise<void> {
    this.#db.prepare('INSERT INTO workspaces (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc')
      .run(workspace.name, JSON.stringify(workspace));
  }

  async delete(name: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM workspaces WHERE name = ?').run(name).changes > 0;
  }

  close(): void {
    this.#handle?.close();
    this.#handle = null;
  }
}
