import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEvents } from '../../src/events.js';
import { openStore } from '../../src/store/open.js';
import { createWebApp } from '../../src/web/app.js';
import { dispositionFilename, safeFilename } from '../../src/web/download-name.js';
import { crlf, incoming, saveIndexed } from '../helpers/mail.js';

describe('download names (Content-Disposition) from names the sender chose', () => {
  it('replaces bidi controls, control characters and path separators, so "\\u202Egnp.exe" cannot show as "exe.png"', () => {
    assert.equal(safeFilename('invoice\u202Egnp.exe'), 'invoice_gnp.exe');
    for (const c of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
      assert.equal(safeFilename(`a${c}b`), 'a_b', `U+${c.charCodeAt(0).toString(16)}`);
    }
    assert.equal(safeFilename('../etc\\passwd\r\n\x00\x1b\x85.txt'), '.._etc_passwd_____.txt');
    assert.equal(safeFilename('Grüße 日本.pdf'), 'Grüße 日本.pdf');
    assert.equal(dispositionFilename('\ud800x.txt'), `filename="_x.txt"; filename*=UTF-8''%EF%BF%BDx.txt`); // a lone surrogate
    assert.equal(dispositionFilename('r\u202Egnp.exe'), `filename="r_gnp.exe"; filename*=UTF-8''r_gnp.exe`);
  });

  it('the attachment download of the API says the safe name', async () => {
    const store = await openStore({ kind: 'memory', dataDir: '', maxMessages: 0 });
    try {
      const raw = crlf([
        'From: a@a.test', 'To: b@b.test', 'Subject: invoice', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
        '--b', 'Content-Type: text/plain', '', 'see attached', '--b',
        'Content-Type: application/octet-stream', `Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEgnp.exe`,
        'Content-Transfer-Encoding: base64', '', Buffer.from('MZ').toString('base64'), '--b--',
      ]);
      const id = await saveIndexed(store, incoming(raw));
      const app = createWebApp({ store, events: createEvents(), uiDir: null });
      const r = await app.fetch(new Request(`http://127.0.0.1/api/v1/messages/${id}/attachments/0`));
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-disposition'), `attachment; filename="invoice_gnp.exe"; filename*=UTF-8''invoice_gnp.exe`);
    } finally {
      await store.close();
    }
  });
});
