/**
 * The wall between workspaces (issue 26): a MessageStore bound to one workspace. Every read and write a workspace's
 * caller makes (HTTP API, SSE, MCP, the Mailpit and MailHog APIs, IMAP and POP3) goes through one of these, so no route
 * can forget the filter:
 *  - searches, listings, waits and bulk deletes get a `workspace:NAME` term ahead of the caller's query (terms are
 *    ANDed, so nothing the caller writes widens it; a forged cursor only moves within the filtered rows);
 *  - a message named by id is first looked up (messageWorkspace): another workspace's id answers exactly as a missing
 *    one (null / false), before anything is read or changed;
 *  - sessions and inboxes are filtered by the store (SessionFilter.workspace, InboxListOptions.workspace), a session
 *    read by id checked against its own workspace;
 *  - what it stores (Mailpit's send, a release's session) is stamped with its workspace;
 *  - counts of the whole store (stats) read as zero, and retention and workspaces are not its to run.
 */
import type {
  AttachmentContent, InboxDeletion, MessageCount, InboxListOptions, IncomingMessage, JsonPage, ListOptions, MessageDetail, MessageStore, MessageSummary, Page,
  PruneResult, SessionDetail, SessionListOptions, SessionRecord, SessionSummary, StoreHealth, StoreStats, InboxSummary,
} from './types.js';
import type { Workspace, WorkspaceRegistry } from './workspace.js';

export function scopeStore(store: MessageStore, workspace: string): MessageStore {
  return new WorkspaceStore(store, workspace);
}

class WorkspaceStore implements MessageStore {
  readonly #store: MessageStore;
  readonly #ws: string;
  readonly kind: MessageStore['kind'];
  readonly workspaces: WorkspaceRegistry;

  /** The webhooks and their outbox serve every workspace: admins only (the web's routes say so), never a workspace. */
  get outbox(): MessageStore['outbox'] {
    throw new Error('a workspace has no webhook outbox: webhooks are for admins');
  }

  constructor(store: MessageStore, workspace: string) {
    this.#store = store;
    this.#ws = workspace;
    this.kind = store.kind;
    this.workspaces = {
      list: async (): Promise<Workspace[]> => (await store.workspaces.list()).filter((w) => w.name === workspace),
      put: async () => { throw new Error('a workspace cannot manage workspaces'); },
      delete: async () => { throw new Error('a workspace cannot manage workspaces'); },
    };
  }

  /** The caller's query with this workspace's term first: `workspace:` takes a slug, so no quoting is needed. */
  #q(query: string | undefined): string {
    return `workspace:${this.#ws} ${query ?? ''}`;
  }

  async #owns(id: string): Promise<boolean> {
    return typeof id === 'string' && (await this.#read(() => this.#store.messageWorkspace(id))) === this.#ws;
  }

  /** A read, under the store's own second wall where it has one (PostgreSQL's row-level security). */
  #read<T>(read: () => Promise<T>): Promise<T> {
    return this.#store.readAsWorkspace === undefined ? read() : this.#store.readAsWorkspace(this.#ws, read);
  }

  save(message: IncomingMessage): Promise<string> {
    return this.#store.save({ ...message, connection: { ...message.connection, workspace: this.#ws } });
  }

  saveSession(session: SessionRecord): Promise<string> {
    return this.#store.saveSession({ ...session, connection: { ...session.connection, workspace: this.#ws } });
  }

  listMessages(options: ListOptions = {}): Promise<Page<MessageSummary>> {
    return this.#read(() => this.#store.listMessages({ ...options, query: this.#q(options.query) }));
  }

  listMessagesJson(options: ListOptions = {}): Promise<JsonPage> {
    return this.#read(() => this.#store.listMessagesJson({ ...options, query: this.#q(options.query) }));
  }

  async getMessage(id: string): Promise<MessageDetail | null> {
    return (await this.#owns(id)) ? this.#read(() => this.#store.getMessage(id)) : null;
  }

  async getRaw(id: string): Promise<Buffer | null> {
    return (await this.#owns(id)) ? this.#read(() => this.#store.getRaw(id)) : null;
  }

  async getAttachment(id: string, index: number): Promise<AttachmentContent | null> {
    return (await this.#owns(id)) ? this.#read(() => this.#store.getAttachment(id, index)) : null;
  }

  async setRead(id: string, read: boolean): Promise<boolean> {
    return (await this.#owns(id)) && this.#store.setRead(id, read);
  }

  async deleteMessage(id: string): Promise<boolean> {
    return (await this.#owns(id)) && this.#store.deleteMessage(id);
  }

  deleteMessages(query?: string): Promise<string[]> {
    return this.#store.deleteMessages(this.#q(query));
  }

  deleteInboxMessages(address: string, query?: string): Promise<InboxDeletion> {
    return this.#store.deleteInboxMessages(address, this.#q(query));
  }

  setReadMatching(query: string, read: boolean): Promise<number> {
    return this.#store.setReadMatching(this.#q(query), read);
  }

  matchesAfter(query: string, after: string | null, limit: number): Promise<readonly { message: MessageSummary; cursor: string }[]> {
    return this.#read(() => this.#store.matchesAfter(this.#q(query), after, limit));
  }

  countMessages(query?: string): Promise<MessageCount> {
    return this.#read(() => this.#store.countMessages(this.#q(query)));
  }

  nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null> {
    return this.#read(() => this.#store.nextMatch(this.#q(query), after));
  }

  listSessions(options: SessionListOptions = {}): Promise<Page<SessionSummary>> {
    return this.#read(() => this.#store.listSessions({ ...options, workspace: this.#ws }));
  }

  listInboxes(options: InboxListOptions = {}): Promise<Page<InboxSummary>> {
    return this.#read(() => this.#store.listInboxes({ ...options, workspace: this.#ws }));
  }

  async getSession(id: string): Promise<SessionDetail | null> {
    const s = await this.#read(() => this.#store.getSession(id));
    return s !== null && s.connection.workspace === this.#ws ? s : null;
  }

  async messageWorkspace(id: string): Promise<string | null> {
    return (await this.#owns(id)) ? this.#ws : null;
  }

  async prune(): Promise<PruneResult> {
    return { messages: 0, sessions: 0 };
  }

  stats(): StoreStats {
    return { saved: 0, transactions: 0, failed: 0 };
  }

  /** Only this workspace's messages: each announced one is looked up first (a summary does not carry its workspace). */
  onIndexed(listener: (message: MessageSummary) => void): () => void {
    return this.#store.onIndexed((m) => {
      void this.#store.messageWorkspace(m.id).then((w) => { if (w === this.#ws) listener(m); }, () => undefined);
    });
  }

  health(): StoreHealth {
    return this.#store.health();
  }

  /** The handle does not own the store: closing it closes nothing. */
  async close(): Promise<void> {}
}
