/** Retention per workspace (issue 26): one workspace's limits prune its own mail only, on every store. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, CONN, SIMPLE, incoming, saveIndexed, type Opened } from '../helpers/mail.js';
import { pruneWorkspaces } from '../../src/workspaces/retention.js';
import { scopeStore } from '../../src/store/workspace-scope.js';
import type { Workspace } from '../../src/store/workspace.js';

const ws = (name: string, retention: Workspace['retention']): Workspace => ({
  name, smtp: [], tokens: [], recipients: [], retention, source: 'api', createdAt: '2026-01-01T00:00:00.000Z',
});

for (const backend of BACKENDS) {
  describe(`${backend.name}: retention per workspace`, () => {
    let o: Opened;
    before(async () => { o = await backend.open(); });
    after(async () => { await o.cleanup(); });

    it('keeps each workspace\'s newest maxMessages and drops those older than maxAge, touching no other workspace', async () => {
      const save = (w: string, at: string): Promise<string> =>
        saveIndexed(o.store, { ...incoming(SIMPLE, {}, new Date(at)), connection: { ...CONN, workspace: w } });
      const a = [await save('a', '2026-01-01T00:00:01Z'), await save('a', '2026-01-01T00:00:02Z'), await save('a', '2026-01-01T00:00:03Z')];
      const b = [await save('b', '2026-01-01T00:00:01Z'), await save('b', '2026-01-01T00:00:02Z'), await save('b', '2026-01-01T00:00:03Z')];
      const c = [await save('c', '2025-01-01T00:00:00Z'), await save('c', '2026-01-01T00:00:00Z')];
      const gone = await pruneWorkspaces(o.store, [ws('a', { maxMessages: 2 }), ws('b', {}), ws('c', { maxAgeMs: 86_400_000 })], Date.parse('2026-01-01T12:00:00Z'));
      assert.deepEqual([...gone], [['a', 1], ['c', 1]]);
      const ids = async (w: string): Promise<string[]> => (await scopeStore(o.store, w).listMessages()).items.map((m) => m.id);
      assert.deepEqual(await ids('a'), [a[2], a[1]]);
      assert.deepEqual(await ids('b'), [b[2], b[1], b[0]]);
      assert.deepEqual(await ids('c'), [c[1]]);
    });
  });
}
