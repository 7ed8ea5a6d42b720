/**
 * The workspaces a running server knows (issue 26): the store's registry (../store/workspace.ts), read again when the
 * copy here is older than a second, so a workspace or token made or revoked through another instance on the same
 * PostgreSQL counts here within that second (and at once on this instance, which reloads after its own changes).
 *
 * It answers the three questions asked on every request, session and message: whose token is this (compared against
 * every token's SHA-256 in constant time, no early exit), which workspace an SMTP user belongs to, and which workspace
 * a recipient falls into (its globs, in name order; none: `default`).
 */
import { timingSafeEqual } from 'node:crypto';
import { createPasswordCheck, type PasswordCheck } from '../credentials.js';
import { DEFAULT_WORKSPACE, globMatcher, sha256Hex, type Workspace, type WorkspaceRegistry } from '../store/index.js';

export type TokenOwner = Readonly<{ kind: 'admin' }> | Readonly<{ kind: 'workspace'; workspace: string }>;

type Snapshot = Readonly<{
  at: number;
  byName: ReadonlyMap<string, Workspace>;
  tokens: readonly Readonly<{ hash: Buffer; owner: TokenOwner; workspaceName: string | null }>[];
  userWorkspace: ReadonlyMap<string, string>;
  smtpCheck: PasswordCheck | null;
  routes: readonly Readonly<{ workspace: string; match: (address: string) => boolean }>[];
}>;

const REFRESH_MS = 1000;

export const builtinDefault = (): Workspace => ({
  name: DEFAULT_WORKSPACE, smtp: [], tokens: [], recipients: [], retention: {}, source: 'builtin', createdAt: new Date(0).toISOString(),
});

export class WorkspaceDirectory {
  readonly registry: WorkspaceRegistry;
  readonly #adminHashes: readonly string[];
  #snap: Snapshot;
  #loading: Promise<Snapshot> | null = null;

  constructor(registry: WorkspaceRegistry, adminTokenHashes: readonly string[] = []) {
    this.registry = registry;
    this.#adminHashes = adminTokenHashes;
    this.#snap = this.#build([]);
  }

  /** Reads the registry now (after a change made here, and at start). */
  async reload(): Promise<void> {
    this.#loading = null;
    await this.#fresh(true);
  }

  async #fresh(force = false): Promise<Snapshot> {
    if (!force && Date.now() - this.#snap.at < REFRESH_MS) return this.#snap;
    this.#loading ??= this.registry.list().then((list) => {
      this.#snap = this.#build(list);
      return this.#snap;
    }).finally(() => { this.#loading = null; });
    return this.#loading;
  }

  #build(list: readonly Workspace[]): Snapshot {
    const byName = new Map<string, Workspace>([[DEFAULT_WORKSPACE, builtinDefault()]]);
    for (const w of list) byName.set(w.name, w);
    const tokens: Snapshot['tokens'][number][] = this.#adminHashes.map((h) => ({ hash: Buffer.from(h, 'hex'), owner: { kind: 'admin' } as const, workspaceName: null }));
    const userWorkspace = new Map<string, string>();
    const users: { user: string; bcryptHash: string }[] = [];
    const routes: { workspace: string; match: (a: string) => boolean }[] = [];
    for (const w of byName.values()) {
      for (const t of w.tokens) tokens.push({ hash: Buffer.from(t.sha256, 'hex'), owner: { kind: 'workspace', workspace: w.name }, workspaceName: w.name });
      for (const u of w.smtp) {
        userWorkspace.set(u.user, w.name);
        users.push({ user: u.user, bcryptHash: u.bcryptHash });
      }
      for (const g of w.recipients) routes.push({ workspace: w.name, match: globMatcher(g) });
    }
    return { at: Date.now(), byName, tokens, userWorkspace, smtpCheck: users.length === 0 ? null : createPasswordCheck(users), routes };
  }

  async list(): Promise<Workspace[]> {
    return [...(await this.#fresh()).byName.values()];
  }

  async get(name: string): Promise<Workspace | null> {
    return (await this.#fresh()).byName.get(name) ?? null;
  }

  /**
   * Who holds `token`: compared as SHA-256 against every known token in constant time (each one looked at); with
   * `workspace` (HTTP Basic: the workspace's name as user) only that workspace's tokens count.
   */
  async tokenOwner(token: string, workspace?: string): Promise<TokenOwner | null> {
    const snap = await this.#fresh();
    const hash = Buffer.from(sha256Hex(token), 'hex');
    let owner: TokenOwner | null = null;
    for (const t of snap.tokens) {
      const same = t.hash.length === hash.length && timingSafeEqual(t.hash, hash);
      if (same && (workspace === undefined || t.workspaceName === workspace)) owner = t.owner;
    }
    return owner;
  }

  /** The workspace an SMTP user belongs to (from the last copy read: no wait on the SMTP path); null for none. */
  workspaceOfUser(user: string): string | null {
    void this.#fresh().catch(() => undefined);
    return this.#snap.userWorkspace.get(user) ?? null;
  }

  /** Checks an SMTP login against the workspaces' users (bcrypt on the pool's threads); false when none has users. */
  async checkSmtpUser(user: string, password: string): Promise<boolean> {
    const check = (await this.#fresh()).smtpCheck;
    return check === null ? false : check(user, password);
  }

  /** True when any workspace has SMTP users (the server then offers AUTH). */
  hasSmtpUsers(): boolean {
    return this.#snap.userWorkspace.size > 0;
  }

  /** The workspace a recipient falls into: the first (by name) whose glob matches; else null. */
  workspaceOfRecipient(address: string): string | null {
    void this.#fresh().catch(() => undefined);
    for (const r of this.#snap.routes) if (r.match(address)) return r.workspace;
    return null;
  }
}
