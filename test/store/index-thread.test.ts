/**
 * The index's CPU budget per message (index-thread.ts): past it the parse is given up, the message is indexed from its
 * headers alone with indexLimited set, and the messages behind it are indexed in full by a new thread.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IndexThread } from '../../src/store/index-thread.js';
import { MAX_INDEXED_PARTS, parseForIndex } from '../../src/store/parse.js';
import { MULTIPART, crlf } from '../helpers/mail.js';

const env = { helo: 'client.test', from: 'env@e.test', to: ['bob@b.test'] };

/** An HTML-only mail whose parse takes far more than a few ms of CPU: 16 MB of paragraphs. */
const SLOW = crlf(['From: Slow Sender <slow@s.test>', 'To: Bob <bob@b.test>', 'Subject: too costly', 'Content-Type: text/html', '',
  ...Array.from({ length: 16 * 1024 * 1024 / 78 }, () => '<p>words</p>'.repeat(7).slice(0, 76))]);

describe('the index thread and its budget per message', () => {
  const thread = new IndexThread(100); // SLOW takes seconds of CPU; MULTIPART a few ms, even on a cold thread
  after(() => thread.close());

  it('indexes a message past its budget from its headers alone, and the next one in full', async () => {
    const [slow, next] = await Promise.all([thread.entry(SLOW, env), thread.entry(MULTIPART, env)]);
    assert.equal(slow.summary.indexLimited, true);
    assert.equal(slow.summary.subject, 'too costly');
    assert.deepEqual(slow.summary.from, { name: 'Slow Sender', address: 'slow@s.test' });
    assert.equal(slow.summary.snippet, '');
    assert.match(slow.search.fromLc, /slow@s\.test/);
    assert.equal(slow.search.ftsBody, '');
    assert.equal(thread.stats.restarts, 1);
    assert.equal(next.summary.indexLimited, false);
    assert.equal(next.summary.subject, 'Quarterly report');
    assert.equal(next.summary.attachmentCount, 2);
  });

  it('indexes a message of more than MAX_INDEXED_PARTS parts from its headers alone', async () => {
    const parts = Array.from({ length: MAX_INDEXED_PARTS + 1 }, (_, k) => `--b\r\nContent-Type: application/octet-stream\r\n\r\n${k}\r\n`).join('');
    const raw = Buffer.from(`Subject: many parts\r\nFrom: p@p.test\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`, 'latin1');
    const p = await parseForIndex(raw);
    assert.equal(p.limited, true);
    assert.equal(p.subject, 'many parts');
  });
});
