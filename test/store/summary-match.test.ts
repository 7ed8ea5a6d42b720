/** The wait matcher agrees with the store's own search wherever the summary can tell, and says 'maybe' only for words it cannot see. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import { parseQuery } from '../../src/store/query.js';
import { matchSummary } from '../../src/store/summary-match.js';
import { ENCODED_SUBJECT, MULTIPART, SIMPLE, UTF8_TEXT, incoming } from '../helpers/mail.js';

describe('matchSummary (a newly indexed message against a waiting query)', () => {
  // query → what the matcher says of [SIMPLE, ENCODED_SUBJECT, UTF8_TEXT, MULTIPART] (SIMPLE marked read)
  const table: readonly (readonly [string, readonly string[]])[] = [
    ['', ['yes', 'yes', 'yes', 'yes']],
    ['from:ann', ['yes', 'no', 'no', 'no']],
    ['from:bounce@c.test', ['no', 'yes', 'no', 'no']], // the envelope sender
    ['to:dan@d.test', ['no', 'yes', 'no', 'no']], // Cc
    ['to:secret@bcc.test', ['no', 'no', 'yes', 'no']], // envelope only
    ['-to:secret', ['yes', 'yes', 'no', 'yes']],
    ['subject:"quarterly rep"', ['no', 'no', 'no', 'yes']],
    ['subject:résumé', ['no', 'yes', 'no', 'no']],
    ['before:2024-05-02', ['yes', 'no', 'no', 'no']],
    ['after:2024-05-03', ['no', 'no', 'yes', 'yes']],
    ['has:attachment', ['no', 'no', 'no', 'yes']],
    ['-has:attachment', ['yes', 'yes', 'yes', 'no']],
    ['is:read', ['yes', 'no', 'no', 'no']],
    ['is:unread', ['no', 'yes', 'yes', 'yes']],
    ['lunch', ['yes', 'maybe', 'maybe', 'maybe']], // in SIMPLE's subject; perhaps in another's body
    ['noon', ['maybe', 'maybe', 'maybe', 'maybe']], // only ever in a body
    ['-lunch', ['no', 'maybe', 'maybe', 'maybe']],
    ['ann@a.test noon', ['maybe', 'maybe', 'maybe', 'maybe']],
    ['noon from:gina', ['no', 'no', 'no', 'maybe']],
  ];

  it('says yes or no exactly where the store does, maybe only where a body word decides', async () => {
    const store = await openStore({ kind: 'memory' });
    try {
      const ids = [
        await store.save(incoming(SIMPLE, {}, new Date('2024-05-01T10:00:00Z'))),
        await store.save(incoming(ENCODED_SUBJECT, { from: 'bounce@c.test', to: ['carol@d.test'] }, new Date('2024-05-02T10:00:00Z'))),
        await store.save(incoming(UTF8_TEXT, { from: 'eve@e.test', to: ['frank@f.test', 'secret@bcc.test'] }, new Date('2024-05-03T10:00:00Z'))),
        await store.save(incoming(MULTIPART, { from: 'gina@g.test', to: ['hank@h.test'] }, new Date('2024-05-04T10:00:00Z'))),
      ];
      await store.setRead(ids[0] ?? '', true);
      const summaries = (await store.listMessages()).items.slice().reverse();
      assert.deepEqual(summaries.map((m) => m.id), ids);
      for (const [query, want] of table) {
        const said = summaries.map((m) => matchSummary(parseQuery(query), m));
        assert.deepEqual(said, want, query);
        const found = new Set((await store.listMessages({ query })).items.map((m) => m.id));
        said.forEach((answer, i) => {
          if (answer !== 'maybe') assert.equal(found.has(ids[i] ?? ''), answer === 'yes', `${query}: message ${i}`);
        });
      }
    } finally {
      await store.close();
    }
  });
});
