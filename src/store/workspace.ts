/**
 * Workspaces (issue 26): one catcher shared by teams and test runs, each seeing only its own mail. This file holds the
 * model (what a workspace is, how its name and document are checked) and the registry every store keeps them in, so
 * every instance on one PostgreSQL sees the same workspaces. Which workspace a message belongs to travels in its
 * ConnectionInfo (`workspace`), which every store already keeps beside the message; a message with none is `default`'s.
 *
 * Secrets: an SMTP user's password is kept as a bcrypt hash (made on ../bcrypt-pool.ts's threads); an API token as the
 * SHA-256 of its text (every API request checks one, so not bcrypt: a token is 32 random bytes, nothing to guess).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ConnectionInfo } from './types.js';

/** The built-in workspace: mail no other workspace takes, and all mail of a server without workspaces. */
export const DEFAULT_WORKSPACE = 'default';

const NAME = /^[a-z0-9-]{1,63}$/;
export const isWorkspaceName = (name: string): boolean => NAME.test(name);

export type WorkspaceToken = Readonly<{ name: string; sha256: string; createdAt: string }>;
export type WorkspaceSmtpUser = Readonly<{ user: string; bcryptHash: string }>;
export type WorkspaceRetention = Readonly<{
  /** Keep at most this many of the workspace's messages; absent: the server's --max-messages. */
  maxMessages?: number;
  /** Drop the workspace's messages older than this many ms; absent: the server's --max-age. */
  maxAgeMs?: number;
}>;

/** A workspace as the registry keeps it: no secret in clear. */
export type Workspace = Readonly<{
  name: string;
  smtp: readonly WorkspaceSmtpUser[];
  tokens: readonly WorkspaceToken[];
  /** Recipient globs (`*@team-a.test`); `*` stands for any run of characters, matched case-insensitively. */
  recipients: readonly string[];
  retention: WorkspaceRetention;
  /** 'file': made or updated from --workspaces at start; 'api': made through the API (a start leaves it alone). */
  source: 'file' | 'api' | 'builtin';
  createdAt: string;
}>;

/** Where workspaces are kept: a table of each store (PostgreSQL: shared by every instance on it). */
export interface WorkspaceRegistry {
  list(): Promise<Workspace[]>;
  /** Creates or replaces the workspace of that name. */
  put(workspace: Workspace): Promise<void>;
  /** False when there was none. */
  delete(name: string): Promise<boolean>;
}

/** The workspace a stored message (or session) belongs to, from its connection facts. */
export const workspaceOf = (connection: Pick<ConnectionInfo, 'workspace'>): string => connection.workspace ?? DEFAULT_WORKSPACE;

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A new API token: `mw_` and 32 random bytes, base64url. Shown once; only its SHA-256 is kept. */
export const newToken = (): string => `mw_${randomBytes(32).toString('base64url')}`;

/** A recipient glob as a test: `*` is any run of characters, everything else literal, case-insensitive. */
export function globMatcher(glob: string): (address: string) => boolean {
  const g = glob.toLowerCase();
  const parts = g.split('*');
  if (parts.length === 1) return (a) => a.toLowerCase() === g;
  // Linear: each literal part found in order (the first anchored at the start, the last at the end).
  return (address) => {
    const a = address.toLowerCase();
    const first = parts[0] ?? '';
    const last = parts[parts.length - 1] ?? '';
    if (!a.startsWith(first) || a.length < first.length + last.length || !a.endsWith(last)) return false;
    let at = first.length;
    const end = a.length - last.length;
    for (let i = 1; i < parts.length - 1; i++) {
      const p = parts[i] ?? '';
      const found = a.indexOf(p, at);
      if (found === -1 || found + p.length > end) return false;
      at = found + p.length;
    }
    return true;
  };
}

/** An in-memory registry: the memory store's, and the base of the others' caches. */
export class MemoryWorkspaceRegistry implements WorkspaceRegistry {
  readonly #all = new Map<string, Workspace>();
  async list(): Promise<Workspace[]> {
    return [...this.#all.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  async put(workspace: Workspace): Promise<void> {
    this.#all.set(workspace.name, workspace);
  }
  async delete(name: string): Promise<boolean> {
    return this.#all.delete(name);
  }
}
