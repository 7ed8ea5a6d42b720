/**
 * The store contract: behaviour every queryable store shares, run against SQLite in a temp dir, memory, and
 * PostgreSQL in a database of its own. A message is readable by id once save() resolves and searchable once announced (onIndexed): cases that list or search
 * save with saveIndexed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKENDS, CONN, ENCODED_SUBJECT, GARBAGE, MULTIPART, PDF_BYTES, PNG_BYTES, SIMPLE, UTF8_TEXT, crlf, incoming, saveIndexed, untilIndexed, type Opened,
} from '../helpers/mail.js';
import { StoreInputError } from '../../src/store/errors.js';
import { encodeCursor } from '../../src/store/cursor.js';
import type { ListOptions, MessageSummary, Page } from '../../src/store/types.js';

for (const backend of BACKENDS) {
  describe(`${backend.name} store`, () => {
    let o: Opened;
    before(async () => { o = await backend.open(); });
    after(async () => { await o.cleanup(); });

    it('returns the raw bytes exactly as saved, bare CRs and NULs included', async () => {
      for (const raw of [SIMPLE, MULTIPART, GARBAGE]) {
        const id = await saveIndexed(o.store, incoming(raw));
        assert.deepEqual(await o.store.getRaw(id), raw);
      }
    });

    it('keeps the envelope and connection and parses the summary once', async () => {
      const id = await saveIndexed(o.store, incoming(SIMPLE, { to: ['bob@b.test', 'hidden@bcc.test'] }));
      const m = await o.store.getMessage(id);
      assert.ok(m);
      assert.deepEqual(
        { ...m, headers: undefined },
        {
          id, receivedAt: '2024-05-01T10:00:00.000Z', size: SIMPLE.byteLength, read: false,
          from: { name: 'Ann Example', address: 'ann@a.test' }, to: [{ name: 'Bob', address: 'bob@b.test' }], cc: [],
          subject: 'Lunch plans', date: '2024-05-01T09:59:00.000Z', messageId: '<lunch-1@a.test>', attachmentCount: 0,
          snippet: 'Shall we meet at noon? .leading dot kept Your code is 482913.', indexLimited: false,
          envelope: { helo: 'client.test', from: 'ann@a.test', to: ['bob@b.test', 'hidden@bcc.test'] },
          connection: CONN, text: 'Shall we meet at noon?\n.leading dot kept\nYour code is 482913.\n', html: '', attachments: [], remoteContent: false,
          headers: undefined,
        },
      );
      assert.deepEqual(m.headers.map((h) => h.name), ['From', 'To', 'Subject', 'Date', 'Message-ID']);
    });

    it('decodes encoded-word subjects and names', async () => {
      const m = await o.store.getMessage(await saveIndexed(o.store, incoming(ENCODED_SUBJECT)));
      assert.equal(m?.subject, 'Café résumé💳');
      assert.deepEqual(m?.from, { name: 'Renée', address: 'renee@c.test' });
      assert.deepEqual(m?.cc, [{ name: 'Dan', address: 'dan@d.test' }]);
    });

    it('decodes UTF-8 text bodies', async () => {
      const m = await o.store.getMessage(await saveIndexed(o.store, incoming(UTF8_TEXT)));
      assert.equal(m?.text, 'Grüße aus Köln — 東京\nzweite Zeile\n');
    });

    it('lists attachments of a multipart message and serves their decoded bytes', async () => {
      const id = await saveIndexed(o.store, incoming(MULTIPART));
      const m = await o.store.getMessage(id);
      assert.deepEqual(m?.attachments, [
        { index: 0, filename: 'report.pdf', contentType: 'application/pdf', size: PDF_BYTES.byteLength, contentId: null, disposition: 'attachment' },
        { index: 1, filename: 'logo.png', contentType: 'image/png', size: PNG_BYTES.byteLength, contentId: '<logo@g.test>', disposition: 'inline' },
      ]);
      assert.equal(m?.text, 'See the report: https://example.test/r?id=7 and confirm with 5531.\n');
      assert.match(m?.html ?? '', /<a href="https:\/\/example.test\/r\?id=7">/);
      assert.deepEqual((await o.store.getAttachment(id, 0))?.content, PDF_BYTES);
      assert.deepEqual((await o.store.getAttachment(id, 1))?.content, PNG_BYTES);
      assert.equal(await o.store.getAttachment(id, 2), null);
      assert.equal(await o.store.getAttachment(id, -1), null);
    });

    it('stores what it cannot parse, with an empty summary', async () => {
      const id = await saveIndexed(o.store, incoming(GARBAGE));
      const m = await o.store.getMessage(id);
      assert.equal(m?.subject, '');
      assert.equal(m?.from, null);
      assert.deepEqual(await o.store.getRaw(id), GARBAGE);
    });

    it('announces each saved message once, when it is searchable, with the summary a listing shows', async () => {
      await untilIndexed(o.store); // the earlier cases' messages, saved without waiting, are announced by now
      const announced: MessageSummary[] = [];
      const off = o.store.onIndexed((m) => announced.push(m));
      try {
        const a = await saveIndexed(o.store, incoming(SIMPLE, { to: ['announce-a@b.test'] }));
        const b = await saveIndexed(o.store, incoming(MULTIPART, { to: ['announce-b@b.test'] }));
        assert.deepEqual(announced.map((m) => m.id), [a, b]);
        const listed = (await o.store.listMessages({ query: 'to:announce-a@b.test' })).items;
        assert.deepEqual(announced[0], listed[0]);
        assert.equal(announced[1]?.attachmentCount, 2);
        assert.deepEqual(o.store.health(), { ok: true, reason: null, indexBacklog: 0, indexLagMs: 0 });
      } finally {
        off();
      }
      const after = await saveIndexed(o.store, incoming(SIMPLE));
      assert.equal(announced.some((m) => m.id === after), false, 'a listener gone is not called');
    });

    it('a listener that throws fails no save and silences no other listener; the throw is reported', async (t) => {
      await untilIndexed(o.store);
      const reported = t.mock.method(process.stderr, 'write', () => true); // where src/log.ts prints
      const heard: string[] = [];
      const offThrowing = o.store.onIndexed(() => { throw new Error('listener bug'); });
      const offHearing = o.store.onIndexed((m) => heard.push(m.id));
      try {
        const ids: string[] = [];
        // saveIndexed resolves only once its own listener (added after the throwing one) heard the message.
        for (const to of ['throw-a@b.test', 'throw-b@b.test', 'throw-c@b.test']) ids.push(await saveIndexed(o.store, incoming(SIMPLE, { to: [to] })));
        assert.deepEqual(heard, ids);
        assert.equal(reported.mock.callCount(), 3);
        assert.match(String(reported.mock.calls[0]?.arguments[0]), /onIndexed listener threw: Error: listener bug\n/);
      } finally {
        offThrowing();
        offHearing();
      }
    });

    it('answers unknown and malformed ids with null/false, never a throw', async () => {
      for (const id of ['nope', '', "' OR 1=1 --", 'x'.repeat(5000), 'a\0b', '00000000-0000-0000-0000-000000000000']) {
        assert.equal(await o.store.getMessage(id), null);
        assert.equal(await o.store.getRaw(id), null);
        assert.equal(await o.store.getAttachment(id, 0), null);
        assert.equal(await o.store.setRead(id, true), false);
        assert.equal(await o.store.deleteMessage(id), false);
        assert.equal(await o.store.getSession(id), null);
      }
    });
  });

  describe(`${backend.name} search`, () => {
    let o: Opened;
    const ids: Record<string, string> = {};
    before(async () => {
      o = await backend.open();
      ids.simple = await saveIndexed(o.store, incoming(SIMPLE, {}, new Date('2024-05-01T10:00:00Z')));
      ids.encoded = await saveIndexed(o.store, incoming(ENCODED_SUBJECT, { from: 'bounce@c.test', to: ['carol@d.test'] }, new Date('2024-05-02T10:00:00Z')));
      ids.utf8 = await saveIndexed(o.store, incoming(UTF8_TEXT, { from: 'eve@e.test', to: ['frank@f.test', 'secret@bcc.test'] }, new Date('2024-05-03T10:00:00Z')));
      ids.multi = await saveIndexed(o.store, incoming(MULTIPART, { from: 'gina@g.test', to: ['hank@h.test'] }, new Date('2024-05-04T10:00:00Z')));
      await o.store.setRead(ids.simple, true);
    });
    after(async () => { await o.cleanup(); });

    const table: readonly (readonly [string, readonly string[]])[] = [
      ['', ['multi', 'utf8', 'encoded', 'simple']],
      ['noon', ['simple']],
      ['NOON', ['simple']],
      ['"meet at noon"', ['simple']],
      ['"noon at meet"', []],
      ['lunch plans', ['simple']],
      ['cafe', ['encoded']], // diacritics folded
      ['köln', ['utf8']],
      ['東京', ['utf8']],
      ['ann@a.test', ['simple']],
      ['hank@h.test', ['multi']],
      ['-noon', ['multi', 'utf8', 'encoded']],
      ['from:ann', ['simple']],
      ['from:"Ann Example"', ['simple']],
      ['from:bounce@c.test', ['encoded']], // the envelope sender
      ['from:RENÉE', ['encoded']],
      ['to:dan@d.test', ['encoded']], // Cc
      ['to:secret@bcc.test', ['utf8']], // only in the envelope: a BCC
      ['-to:secret', ['multi', 'encoded', 'simple']],
      ['subject:"quarterly rep"', ['multi']],
      ['subject:résumé', ['encoded']],
      ['before:2024-05-02', ['simple']],
      ['after:2024-05-03', ['multi', 'utf8']],
      ['after:2024-05-02 before:2024-05-04', ['utf8', 'encoded']],
      ['after:2024-05-04T10:00:00Z', ['multi']],
      ['has:attachment', ['multi']],
      ['-has:attachment', ['utf8', 'encoded', 'simple']],
      ['is:read', ['simple']],
      ['is:unread', ['multi', 'utf8', 'encoded']],
      ['report has:attachment from:gina', ['multi']],
      ['report from:ann', []],
      ['- -- @ : "" "-"', ['multi', 'utf8', 'encoded', 'simple']], // punctuation alone narrows nothing and breaks nothing
      ['"OR" NEAR AND*', []],
      ['a-b:c x:y', []],
    ];
    for (const [query, want] of table) {
      it(`finds ${JSON.stringify(want)} for ${JSON.stringify(query)}`, async () => {
        const page = await o.store.listMessages({ query });
        assert.deepEqual(page.items.map((m) => Object.entries(ids).find(([, v]) => v === m.id)?.[0]), want);
        // countMessages counts what the listing lists (ids.simple is the one read message).
        assert.deepEqual(await o.store.countMessages(query), { total: want.length, unread: want.filter((k) => k !== 'simple').length });
      });
    }

    it('rejects a malformed query with a StoreInputError', async () => {
      await assert.rejects(o.store.listMessages({ query: 'from:"x' }), (e: unknown) => e instanceof StoreInputError && e.code === 'ERR_BAD_QUERY');
      await assert.rejects(o.store.countMessages('from:"x'), (e: unknown) => e instanceof StoreInputError && e.code === 'ERR_BAD_QUERY');
      await assert.rejects(o.store.deleteMessages('is:maybe'), StoreInputError);
      await assert.rejects(o.store.listMessages({ cursor: 'garbage!' }), (e: unknown) => e instanceof StoreInputError && e.code === 'ERR_BAD_CURSOR');
    });

    it('pages newest first with an opaque cursor', async () => {
      const p1 = await o.store.listMessages({ limit: 3 });
      assert.deepEqual(p1.items.map((m) => m.id), [ids.multi, ids.utf8, ids.encoded]);
      assert.equal(typeof p1.nextCursor, 'string');
      const p2 = await o.store.listMessages({ limit: 3, cursor: p1.nextCursor });
      assert.deepEqual(p2.items.map((m) => m.id), [ids.simple]);
      assert.equal(p2.nextCursor, null);
      const filtered = await o.store.listMessages({ limit: 1, query: '-has:attachment' });
      assert.deepEqual(filtered.items.map((m) => m.id), [ids.utf8]);
      const next = await o.store.listMessages({ limit: 5, query: '-has:attachment', cursor: filtered.nextCursor });
      assert.deepEqual(next.items.map((m) => m.id), [ids.encoded, ids.simple]);
    });

    it('gives the same pages as JSON text (listMessagesJson), and rejects what listMessages rejects', async () => {
      const first = await o.store.listMessages({ limit: 2 });
      const asks: ListOptions[] = [{}, { limit: 2 }, { limit: 2, cursor: first.nextCursor }, { query: 'test -noon' }, { query: 'has:attachment' }, { query: 'nothing-matches-this' }];
      for (const ask of asks) {
        const page = await o.store.listMessages(ask);
        const json = await o.store.listMessagesJson(ask);
        assert.equal(json.itemsJson, JSON.stringify(page.items), JSON.stringify(ask));
        assert.equal(json.nextCursor, page.nextCursor, JSON.stringify(ask));
      }
      await assert.rejects(o.store.listMessagesJson({ query: 'from:"x' }), (e: unknown) => e instanceof StoreInputError && e.code === 'ERR_BAD_QUERY');
      await assert.rejects(o.store.listMessagesJson({ cursor: 'garbage!' }), (e: unknown) => e instanceof StoreInputError && e.code === 'ERR_BAD_CURSOR');
    });

    it('pages a full-text search newest first across cursors, and finds its next match after a cursor', async () => {
      // 'test' is in every message's addresses (ann@a.test, …): the full-text index drives these pages.
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page: Page<MessageSummary> = await o.store.listMessages({ limit: 1, query: 'test', cursor });
        seen.push(...page.items.map((m) => m.id));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, [ids.multi, ids.utf8, ids.encoded, ids.simple]);
      const two = await o.store.listMessages({ limit: 2, query: 'test -noon', cursor: (await o.store.listMessages({ limit: 1, query: 'test' })).nextCursor ?? undefined });
      assert.deepEqual(two.items.map((m) => m.id), [ids.utf8, ids.encoded]);
      assert.equal((await o.store.nextMatch('test', null))?.message.id, ids.multi);
      const simple = await o.store.nextMatch('from:ann', null);
      assert.equal((await o.store.nextMatch('test', simple?.cursor ?? null))?.message.id, ids.encoded);
      const multi = await o.store.nextMatch('has:attachment', null);
      assert.equal(await o.store.nextMatch('test', multi?.cursor ?? null), null);
    });

    it('finds the next match after a cursor, oldest first, for long-polling', async () => {
      const newest = await o.store.nextMatch('-has:attachment', null);
      assert.equal(newest?.message.id, ids.utf8);
      const first = await o.store.listMessages({ limit: 4 });
      const oldestCursor = (await o.store.nextMatch('from:ann', null))?.cursor ?? '';
      const afterOldest = await o.store.nextMatch('', oldestCursor);
      assert.equal(afterOldest?.message.id, ids.encoded);
      assert.equal(await o.store.nextMatch('', (await o.store.nextMatch('', null))?.cursor ?? ''), null);
      assert.equal(first.items.length, 4);
    });

    it('reads in one call, oldest first, what repeated nextMatch calls give (matchesAfter), paged by its limit', async () => {
      for (const query of ['', 'test', '-has:attachment', 'inbox:nobody@nowhere.test']) {
        const walked: { id: string; cursor: string }[] = [];
        let cursor = encodeCursor('m', 0);
        for (let i = 0; i < 1000; i++) {
          const hit = await o.store.nextMatch(query, cursor);
          if (hit === null) break;
          walked.push({ id: hit.message.id, cursor: hit.cursor });
          cursor = hit.cursor;
        }
        const bulk = await o.store.matchesAfter(query, null, 10_000);
        assert.deepEqual(bulk.map((m) => ({ id: m.message.id, cursor: m.cursor })), walked, `query ${JSON.stringify(query)}`);
        const firstTwo = await o.store.matchesAfter(query, null, 2);
        const rest = await o.store.matchesAfter(query, firstTwo[firstTwo.length - 1]?.cursor ?? null, 10_000);
        assert.deepEqual([...firstTwo, ...(firstTwo.length < 2 ? [] : rest)].map((m) => m.message.id), walked.map((w) => w.id));
      }
      assert.ok((await o.store.matchesAfter('', null, 10_000)).length >= 4);
    });
  });

  describe(`${backend.name} inboxes`, () => {
    it('lists every envelope recipient as an inbox, lowercased, plus-addresses kept, with total and unread, paged by address', async () => {
      const o = await backend.open();
      try {
        const a = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+run1@x.test', 'Boss@X.test'] }));
        await saveIndexed(o.store, incoming(MULTIPART, { to: ['qa@x.test', 'qa+run1@x.test'] }));
        await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['qa+run2@x.test', 'QA+RUN2@x.test'] })); // one inbox, counted once
        await o.store.setRead(a, true);
        const all = await o.store.listInboxes();
        assert.deepEqual(all, {
          items: [
            { address: 'boss@x.test', total: 1, unread: 0 },
            { address: 'qa+run1@x.test', total: 2, unread: 1 },
            { address: 'qa+run2@x.test', total: 1, unread: 1 },
            { address: 'qa@x.test', total: 1, unread: 1 },
          ],
          nextCursor: null,
        });
        const first = await o.store.listInboxes({ prefix: 'QA+', limit: 1 });
        assert.deepEqual(first.items, [{ address: 'qa+run1@x.test', total: 2, unread: 1 }]);
        assert.ok(first.nextCursor !== null);
        assert.deepEqual(await o.store.listInboxes({ prefix: 'QA+', limit: 1, cursor: first.nextCursor }), {
          items: [{ address: 'qa+run2@x.test', total: 1, unread: 1 }], nextCursor: null,
        });
        assert.deepEqual((await o.store.listInboxes({ prefix: '%' })).items, [], 'LIKE wildcards in a prefix are plain characters');
        assert.deepEqual((await o.store.listInboxes({ prefix: 'qa_' })).items, []);
        await assert.rejects(o.store.listInboxes({ cursor: 'not a cursor' }), StoreInputError);
      } finally {
        await o.cleanup();
      }
    });

    it('finds one inbox\'s messages with inbox:ADDRESS, exactly (qa@x.test is not qa+run1@x.test), in list, search and nextMatch', async () => {
      const o = await backend.open();
      try {
        const a = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+run1@x.test', 'boss@x.test'] }));
        const b = await saveIndexed(o.store, incoming(MULTIPART, { to: ['qa@x.test'] }));
        const c = await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['QA+Run1@X.test'] }));
        const ids = async (query: string): Promise<string[]> => (await o.store.listMessages({ query })).items.map((m) => m.id);
        assert.deepEqual(await ids('inbox:qa+run1@x.test'), [c, a]);
        assert.deepEqual(await ids('inbox:qa@x.test'), [b]);
        assert.deepEqual(await ids('inbox:x.test'), [], 'the whole address, not a part of it');
        assert.deepEqual(await ids('inbox:"qa+run1@x.test" noon'), [a]);
        assert.deepEqual(await ids('-inbox:qa+run1@x.test'), [b]);
        assert.equal((await o.store.nextMatch('inbox:qa@x.test', null))?.message.id, b);
        assert.deepEqual(await o.store.deleteMessages('inbox:qa@x.test'), [b]);
        assert.deepEqual((await o.store.listInboxes()).items.map((i) => i.address), ['boss@x.test', 'qa+run1@x.test']);
      } finally {
        await o.cleanup();
      }
    });

    it('takes an inbox\'s messages out of that inbox only, deleting a message once no inbox holds it', async () => {
      const o = await backend.open();
      try {
        const a = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+1@x.test', 'Boss@X.test'] }));
        const b = await saveIndexed(o.store, incoming(MULTIPART, { to: ['qa+1@x.test'] }));
        const c = await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['QA+1@x.test', 'qa+1@x.test'] }));
        const d = await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['qa+2@x.test'] }));
        const e = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+2@x.test'] }));
        await o.store.setRead(a, true);
        const ids = async (query: string): Promise<string[]> => (await o.store.listMessages({ query })).items.map((m) => m.id);
        const inboxes = async (): Promise<unknown[]> => [...(await o.store.listInboxes()).items];

        assert.deepEqual(await o.store.deleteInboxMessages('QA+1@X.test'), { removed: 3, deleted: [b, c] });
        assert.equal(await o.store.getMessage(b), null);
        assert.equal(await o.store.getRaw(c), null);
        assert.equal((await o.store.getMessage(a))?.id, a, 'still in boss@x.test');
        assert.deepEqual(await ids('inbox:qa+1@x.test'), []);
        assert.equal(await o.store.nextMatch('inbox:qa+1@x.test', null), null);
        assert.deepEqual(await ids('inbox:boss@x.test'), [a]);
        assert.deepEqual(await ids('-inbox:qa+1@x.test'), [e, d, a]);
        assert.deepEqual(await ids(''), [e, d, a]);
        assert.deepEqual(await inboxes(), [
          { address: 'boss@x.test', total: 1, unread: 0 },
          { address: 'qa+2@x.test', total: 2, unread: 2 },
        ]);
        assert.deepEqual(await o.store.deleteInboxMessages('qa+1@x.test'), { removed: 0, deleted: [] }, 'nothing left in it');

        // A message arriving later is in the inbox again.
        const f = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+1@x.test'] }));
        assert.deepEqual(await ids('inbox:qa+1@x.test'), [f]);

        // id: names exactly one message, even beside one received in the same millisecond (IMAP EXPUNGE, POP3 QUIT).
        const twin = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa+1@x.test'] }));
        assert.deepEqual(await o.store.deleteInboxMessages('qa+1@x.test', `id:${twin}`), { removed: 1, deleted: [twin] });
        assert.deepEqual(await ids('inbox:qa+1@x.test'), [f]);
        assert.deepEqual(await ids(`id:${f}`), [f]);
        assert.deepEqual(await ids(`inbox:qa+1@x.test -id:${f}`), []);

        // A query narrows which messages leave; a malformed one is refused and nothing changes.
        await assert.rejects(o.store.deleteInboxMessages('qa+2@x.test', 'is:maybe'), StoreInputError);
        assert.deepEqual(await o.store.deleteInboxMessages('qa+2@x.test', 'noon'), { removed: 1, deleted: [e] });
        assert.deepEqual(await ids('inbox:qa+2@x.test'), [d]);

        assert.deepEqual(await o.store.deleteInboxMessages('boss@x.test'), { removed: 1, deleted: [a] });
        assert.deepEqual(await ids(''), [f, d]);
        assert.deepEqual(await inboxes(), [
          { address: 'qa+1@x.test', total: 1, unread: 1 },
          { address: 'qa+2@x.test', total: 1, unread: 1 },
        ]);
      } finally {
        await o.cleanup();
      }
    });
  });

  describe(`${backend.name} writes`, () => {
    it('sets and clears the read flag', async () => {
      const o = await backend.open();
      try {
        const id = await saveIndexed(o.store, incoming(SIMPLE));
        assert.equal(await o.store.setRead(id, true), true);
        assert.equal((await o.store.getMessage(id))?.read, true);
        assert.equal(await o.store.setRead(id, false), true);
        assert.equal((await o.store.getMessage(id))?.read, false);
      } finally {
        await o.cleanup();
      }
    });

    it('counts the messages a query matches exactly, and marks every match read or unread (mark all read)', async () => {
      const o = await backend.open();
      try {
        assert.deepEqual(await o.store.countMessages(), { total: 0, unread: 0 });
        const a = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa@x.test'] }));
        const b = await saveIndexed(o.store, incoming(MULTIPART, { to: ['qa@x.test', 'ops@x.test'] }));
        const c = await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['ops@x.test'] }));
        const d = await saveIndexed(o.store, incoming(ENCODED_SUBJECT, { to: ['qa@x.test'] }));
        const count = async (q?: string): Promise<number> => (await o.store.countMessages(q)).total;
        assert.deepEqual([await count(), await count(''), await count('has:attachment'), await count('inbox:qa@x.test'), await count('köln'),
          await count('subject:lunch'), await count('nothing-matches-this')], [4, 4, 1, 3, 1, 1, 0]);
        await assert.rejects(count('before:someday'), StoreInputError);
        await assert.rejects(o.store.setReadMatching('before:someday', true), StoreInputError);
        const read = async (): Promise<string[]> => (await o.store.listMessages({ query: 'is:read' })).items.map((m) => m.id);

        assert.equal(await o.store.setRead(a, true), true);
        assert.equal(await o.store.setReadMatching('inbox:qa@x.test', true), 2, 'a was read already');
        assert.deepEqual(await read(), [d, b, a]);
        assert.equal(await count('is:unread'), 1);
        assert.equal(await o.store.setReadMatching('inbox:qa@x.test', true), 0);
        assert.equal(await o.store.setReadMatching('', true), 1);
        assert.deepEqual(await read(), [d, c, b, a]);
        assert.equal(await o.store.setReadMatching('has:attachment', false), 1);
        assert.equal((await o.store.getMessage(b))?.read, false);
        assert.deepEqual([await count('is:read'), await count('is:unread')], [3, 1]);
        assert.deepEqual(await o.store.countMessages(''), { total: 4, unread: 1 });
      } finally {
        await o.cleanup();
      }
    });

    it('deletes one message, and many by query, and all with no query', async () => {
      const o = await backend.open();
      try {
        const a = await saveIndexed(o.store, incoming(SIMPLE));
        const b = await saveIndexed(o.store, incoming(MULTIPART));
        const c = await saveIndexed(o.store, incoming(UTF8_TEXT));
        const d = await saveIndexed(o.store, incoming(ENCODED_SUBJECT));
        assert.equal(await o.store.deleteMessage(a), true);
        assert.equal(await o.store.deleteMessage(a), false);
        assert.equal(await o.store.getRaw(a), null);
        assert.deepEqual(await o.store.listMessages({ query: 'noon' }), { items: [], nextCursor: null });
        assert.deepEqual(await o.store.deleteMessages('has:attachment'), [b]);
        assert.deepEqual((await o.store.listMessages()).items.map((m) => m.id), [d, c]);
        assert.deepEqual(await o.store.deleteMessages(), [c, d]);
        assert.deepEqual(await o.store.listMessages({ query: 'köln' }), { items: [], nextCursor: null });
        const e = await saveIndexed(o.store, incoming(UTF8_TEXT));
        assert.deepEqual((await o.store.listMessages({ query: 'köln' })).items.map((m) => m.id), [e]);
      } finally {
        await o.cleanup();
      }
    });

    it('keeps at most maxMessages, pruning the oldest first', async () => {
      const o = await backend.open({ maxMessages: 3 });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await saveIndexed(o.store, incoming(crlf([`Subject: n${i}`, '', `body ${i}`]))));
        await o.store.prune();
        assert.deepEqual((await o.store.listMessages()).items.map((m) => m.subject), ['n4', 'n3', 'n2']);
        assert.equal(await o.store.getRaw(ids[0] ?? ''), null);
        assert.deepEqual((await o.store.listMessages({ query: 'body' })).items.length, 3);
      } finally {
        await o.cleanup();
      }
    });

    it('keeps at most maxMessagesPerInbox in each inbox: the oldest leave it, and are deleted once in no inbox', async () => {
      const o = await backend.open({ maxMessagesPerInbox: 2 });
      try {
        const a = await saveIndexed(o.store, incoming(crlf(['Subject: a', '', 'x']), { to: ['qa@x.test', 'ops@x.test'] }));
        const b = await saveIndexed(o.store, incoming(crlf(['Subject: b', '', 'x']), { to: ['QA@x.test'] }));
        const c = await saveIndexed(o.store, incoming(crlf(['Subject: c', '', 'x']), { to: ['qa@x.test', 'qa@X.test'] }));
        const d = await saveIndexed(o.store, incoming(crlf(['Subject: d', '', 'x']), { to: ['qa@x.test'] }));
        await o.store.prune();
        const ids = async (query: string): Promise<string[]> => (await o.store.listMessages({ query })).items.map((m) => m.id);
        assert.deepEqual(await ids('inbox:qa@x.test'), [d, c]);
        assert.deepEqual(await ids('inbox:ops@x.test'), [a], 'a left qa@x.test only');
        assert.equal(await o.store.getRaw(b), null, 'b was in qa@x.test only: deleted');
        assert.deepEqual(await ids(''), [d, c, a]);
        assert.deepEqual([...(await o.store.listInboxes()).items], [
          { address: 'ops@x.test', total: 1, unread: 1 },
          { address: 'qa@x.test', total: 2, unread: 2 },
        ]);
      } finally {
        await o.cleanup();
      }
    });

    it('drops messages and sessions older than maxAgeMs', async () => {
      const o = await backend.open({ maxAgeMs: 60 * 60_000 });
      try {
        const now = Date.now();
        // Not awaited searchable: retention may take it first (PostgreSQL prunes on its own after commits).
        await o.store.save(incoming(crlf(['Subject: old', '', 'x']), {}, new Date(now - 2 * 60 * 60_000)));
        const fresh = await saveIndexed(o.store, incoming(crlf(['Subject: fresh', '', 'x']), {}, new Date(now)));
        const session = { connection: CONN, end: 'quit' as const, messageIds: [], transcript: [], truncated: false };
        await o.store.saveSession({ ...session, startedAt: new Date(now - 3 * 60 * 60_000), endedAt: new Date(now - 3 * 60 * 60_000) });
        const keep = await o.store.saveSession({ ...session, startedAt: new Date(now), endedAt: new Date(now) });
        await o.store.prune();
        assert.deepEqual((await o.store.listMessages()).items.map((m) => m.id), [fresh]);
        assert.deepEqual((await o.store.listSessions()).items.map((s) => s.id), [keep]);
      } finally {
        await o.cleanup();
      }
    });

    it('records sessions with their transcripts, newest first, paged', async () => {
      const o = await backend.open();
      try {
        const transcript = [
          { at: 1714557600000, dir: 'server' as const, text: '220 mailwire ESMTP' },
          { at: 1714557600010, dir: 'client' as const, text: 'EHLO client.test' },
          { at: 1714557600011, dir: 'server' as const, text: '250 mailwire', responseMs: 0.4 },
        ];
        const base = { connection: CONN, startedAt: new Date('2024-05-01T10:00:00Z'), endedAt: new Date('2024-05-01T10:00:01Z'), truncated: false };
        const s1 = await o.store.saveSession({ ...base, end: 'quit', messageIds: ['m1'], transcript });
        const s2 = await o.store.saveSession({ ...base, id: 'chosen-by-server', end: 'timeout', messageIds: [], transcript: [] });
        assert.equal(s2, 'chosen-by-server');
        const p1 = await o.store.listSessions({ limit: 1 });
        assert.deepEqual(p1.items, [{
          id: s2, startedAt: '2024-05-01T10:00:00.000Z', endedAt: '2024-05-01T10:00:01.000Z', end: 'timeout', connection: CONN,
          messageIds: [], truncated: false, helo: null, mailFrom: null, rcptTo: [],
        }]);
        const p2 = await o.store.listSessions({ limit: 1, cursor: p1.nextCursor });
        assert.deepEqual(p2.items.map((s) => s.id), [s1]);
        assert.equal(p2.nextCursor, null);
        assert.deepEqual(await o.store.getSession(s1), {
          id: s1, startedAt: '2024-05-01T10:00:00.000Z', endedAt: '2024-05-01T10:00:01.000Z', end: 'quit', connection: CONN,
          messageIds: ['m1'], truncated: false, helo: 'client.test', mailFrom: null, rcptTo: [], transcript,
        });
      } finally {
        await o.cleanup();
      }
    });

    it('filters sessions: failed only, by client address, by an address in MAIL FROM or RCPT TO, paged', async () => {
      const o = await backend.open();
      try {
        const base = { startedAt: new Date('2024-05-01T10:00:00Z'), endedAt: new Date('2024-05-01T10:00:01Z'), truncated: false, messageIds: [] };
        const line = (text: string) => ({ at: 1714557600000, dir: 'client' as const, text });
        const other = { ...CONN, clientAddress: '10.0.0.9' };
        const ids = {
          ok: await o.store.saveSession({ ...base, connection: CONN, end: 'quit', transcript: [line('MAIL FROM:<Ann@A.test>'), line('RCPT TO:<bob@b.test>')] }),
          http: await o.store.saveSession({ ...base, connection: other, end: 'error', transcript: [line('GET / HTTP/1.1')] }),
          gone: await o.store.saveSession({ ...base, connection: CONN, end: 'error', transcript: [line('MAIL FROM:<carol@c.test>'), line('RCPT TO:<ann@a.test>')] }),
          slow: await o.store.saveSession({ ...base, connection: other, end: 'timeout', transcript: [line('RCPT TO:<ann@a.test.example>')] }),
          fault: await o.store.saveSession({ ...base, connection: CONN, end: 'fault', transcript: [] }),
          closed: await o.store.saveSession({ ...base, connection: CONN, end: 'client-closed', transcript: [line('MAIL FROM:<xann@a.test>')] }),
        };
        const list = async (f: Parameters<typeof o.store.listSessions>[0]): Promise<string[]> => (await o.store.listSessions(f)).items.map((x) => x.id);
        assert.deepEqual(await list({ failed: true }), [ids.fault, ids.slow, ids.gone, ids.http]);
        assert.deepEqual(await list({ client: '10.0.0.9' }), [ids.slow, ids.http]);
        assert.deepEqual(await list({ address: 'ann@a.test' }), [ids.gone, ids.ok], 'case-insensitive, whole address only');
        assert.deepEqual(await list({ address: 'ANN@a.test', failed: true, client: CONN.clientAddress }), [ids.gone]);
        assert.deepEqual(await list({ client: '10.0.0.10' }), []);
        const p1 = await o.store.listSessions({ failed: true, limit: 3 });
        assert.deepEqual(p1.items.map((x) => x.id), [ids.fault, ids.slow, ids.gone]);
        assert.deepEqual(await list({ failed: true, limit: 3, cursor: p1.nextCursor }), [ids.http]);
      } finally {
        await o.cleanup();
      }
    });

    it('keeps what each session\'s client said: the HELO/EHLO name, the first MAIL FROM, every RCPT TO once, refused or not', async () => {
      const o = await backend.open();
      try {
        const base = { connection: CONN, startedAt: new Date('2024-05-01T10:00:00Z'), endedAt: new Date('2024-05-01T10:00:01Z'), truncated: false, messageIds: [] };
        const at = 1714557600000;
        const c = (text: string) => ({ at, dir: 'client' as const, text });
        const s = (text: string) => ({ at, dir: 'server' as const, text });
        const full = await o.store.saveSession({
          ...base, end: 'quit', transcript: [
            s('220 mailwire ESMTP'), c('ehlo  Client.Test'), s('250 mailwire'), c('HELO again.test'),
            c('MAIL FROM:<Ann@A.test> SIZE=120'), s('250 2.1.0 OK'), c('RCPT TO:<bob@b.test>'), s('250 2.1.5 OK'),
            c('RCPT TO:<nobody@b.test> NOTIFY=NEVER'), s('550 5.1.1 no such user'), c('rcpt to: BOB@B.test'), c('RCPT TO:<carol@c.test>'),
            { at, dir: 'info' as const, text: 'MAIL FROM:<not-a-client@x.test>' }, c('MAIL FROM:<second@a.test>'), c('QUIT'),
          ],
        });
        const bounce = await o.store.saveSession({ ...base, end: 'error', transcript: [c('HELO mx.test'), c('MAIL FROM:<>'), c('RCPT TO:<postmaster@b.test>')] });
        const http = await o.store.saveSession({ ...base, end: 'error', transcript: [c('GET / HTTP/1.1'), s('421 4.7.0 HTTP is not spoken here')] });
        const said = (x: { helo: string | null; mailFrom: string | null; rcptTo: readonly string[] }) => ({ helo: x.helo, mailFrom: x.mailFrom, rcptTo: x.rcptTo });
        const want = {
          [full]: { helo: 'Client.Test', mailFrom: 'Ann@A.test', rcptTo: ['bob@b.test', 'nobody@b.test', 'carol@c.test'] },
          [bounce]: { helo: 'mx.test', mailFrom: '', rcptTo: ['postmaster@b.test'] },
          [http]: { helo: null, mailFrom: null, rcptTo: [] },
        };
        const listed = (await o.store.listSessions()).items;
        assert.deepEqual(Object.fromEntries(listed.map((x) => [x.id, said(x)])), want);
        for (const id of [full, bounce, http]) {
          const d = await o.store.getSession(id);
          assert.ok(d);
          assert.deepEqual(said(d), want[id]);
        }
      } finally {
        await o.cleanup();
      }
    });
  });
}
