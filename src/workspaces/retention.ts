/**
 * Retention per workspace (issue 26): a workspace's `retention` (maxMessages, maxAge) prunes its own mail only, so no
 * workspace's mail goes for another's volume. Runs through the workspace's handle (../store/workspace-scope.ts), so
 * it deletes nothing of any other workspace, on every store; with several instances on one PostgreSQL each runs it,
 * and a message deleted twice is deleted once. The store's own retention (--max-messages, --max-age) still bounds
 * the whole store.
 */
import { scopeStore, type MessageStore, type Workspace } from '../store/index.js';

/** Pages walked to find the oldest message a workspace keeps: maxMessages up to 1,000 × this. */
const PAGE = 1000;
const MAX_PAGES = 100;

/** Applies each workspace's retention now; resolves with how many messages went, per workspace. */
export async function pruneWorkspaces(store: MessageStore, workspaces: readonly Workspace[], now = Date.now()): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const w of workspaces) {
    const { maxMessages, maxAgeMs } = w.retention;
    if ((maxMessages ?? 0) === 0 && (maxAgeMs ?? 0) === 0) continue;
    const scoped = scopeStore(store, w.name);
    let gone = 0;
    if (maxAgeMs !== undefined && maxAgeMs > 0) gone += (await scoped.deleteMessages(`before:${new Date(now - maxAgeMs).toISOString()}`)).length;
    if (maxMessages !== undefined && maxMessages > 0) {
      // The newest maxMessages stay: everything listed after them (older) goes, by id.
      let seen = 0;
      let cursor: string | null = null;
      const extra: string[] = [];
      for (let page = 0; page < MAX_PAGES; page++) {
        const p = await scoped.listMessages({ limit: PAGE, cursor });
        for (const m of p.items) if (++seen > maxMessages) extra.push(m.id);
        cursor = p.nextCursor;
        if (cursor === null) break;
      }
      for (const id of extra) if (await scoped.deleteMessage(id)) gone++;
    }
    out.set(w.name, gone);
  }
  return out;
}
