/**
 * Where a message goes (issue 26), in the sink the SMTP server saves through, not in the connection: sent with AUTH as
 * a workspace's SMTP user, into that workspace whatever its recipients; else each recipient into the workspace whose
 * globs it matches (../store/workspace.ts's globMatcher), the others into `default`. A message whose recipients fall
 * into several workspaces is stored once per workspace, each copy's envelope holding only that workspace's recipients,
 * so read flags, deletions and retention stay per workspace. The 250 waits for every copy; the server is answered
 * with the first copy's id.
 *
 * A session belongs to one workspace when its login or every message it delivered does; else to none (admins only:
 * its transcript names recipients of several workspaces). Its messageIds then list every copy.
 */
import { DEFAULT_WORKSPACE, type IncomingMessage, type MessageSink, type MessageStore, type SessionRecord } from '../store/index.js';
import type { WorkspaceDirectory } from './directory.js';

/** Messages stored whose session has not been recorded yet: first copy's id → workspaces and every copy's id. */
const MAX_REMEMBERED = 10_000;

export function createWorkspaceRouter(store: MessageStore, dir: WorkspaceDirectory): MessageSink {
  const delivered = new Map<string, Readonly<{ workspaces: readonly string[]; ids: readonly string[] }>>();
  const remember = (id: string, entry: { workspaces: readonly string[]; ids: readonly string[] }): void => {
    delivered.set(id, entry);
    if (delivered.size > MAX_REMEMBERED) delivered.delete(delivered.keys().next().value ?? '');
  };
  const stamp = (m: IncomingMessage, workspace: string, to = m.envelope.to, copy = false): IncomingMessage => ({
    ...m, envelope: { ...m.envelope, to: [...to] }, connection: { ...m.connection, workspace }, ...(copy ? { transferRaw: false } : {}),
  });

  return {
    async save(message) {
      const user = message.connection.authUser;
      const byUser = user === undefined ? null : dir.workspaceOfUser(user);
      if (byUser !== null) {
        const id = await store.save(stamp(message, byUser));
        remember(id, { workspaces: [byUser], ids: [id] });
        return id;
      }
      const groups = new Map<string, string[]>();
      for (const rcpt of message.envelope.to) {
        const w = dir.workspaceOfRecipient(rcpt) ?? DEFAULT_WORKSPACE;
        const list = groups.get(w);
        if (list === undefined) groups.set(w, [rcpt]);
        else list.push(rcpt);
      }
      if (groups.size <= 1) {
        const w = groups.keys().next().value ?? DEFAULT_WORKSPACE;
        const id = await store.save(stamp(message, w));
        remember(id, { workspaces: [w], ids: [id] });
        return id;
      }
      // Several workspaces: each its own copy (the store copies the bytes: none may take them away from the others).
      const entries = [...groups];
      const ids = await Promise.all(entries.map(([w, to]) => store.save(stamp(message, w, to, true))));
      const first = ids[0] ?? '';
      remember(first, { workspaces: entries.map(([w]) => w), ids });
      return first;
    },

    async saveSession(session: SessionRecord) {
      const workspaces = new Set<string>();
      const ids: string[] = [];
      const user = session.connection.authUser;
      const byUser = user === undefined ? null : dir.workspaceOfUser(user);
      if (byUser !== null) workspaces.add(byUser);
      for (const id of session.messageIds) {
        const d = delivered.get(id);
        delivered.delete(id);
        for (const w of d?.workspaces ?? []) workspaces.add(w);
        ids.push(...(d?.ids ?? [id]));
      }
      const only = workspaces.size === 1 ? [...workspaces][0] : undefined;
      return store.saveSession({
        ...session, messageIds: ids, connection: only === undefined ? session.connection : { ...session.connection, workspace: only },
      });
    },

    close: () => store.close(),
  };
}
