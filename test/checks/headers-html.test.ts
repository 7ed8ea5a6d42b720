/**
 * The header check (what a receiver trips over, without the network) and the HTML check (caniemail's data), on
 * messages written for them: exact findings and features, and a DKIM body hash signed by nodemailer's own signer.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { checkHeaders, dkimBodyHash } from '../../src/checks/headers.js';
import { checkHtml, findFeatures, selectClients } from '../../src/checks/html.js';

const crlf = (lines: readonly string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
const rules = (raw: Buffer, text = 'hello', html = ''): string[] => checkHeaders({ raw, text, html }).findings.map((f) => f.rule);

describe('header check', () => {
  it('finds nothing in a well-formed message', () => {
    const raw = crlf(['Date: Mon, 7 Dec 2026 18:00:00 +0000', 'From: A <a@x.test>', 'To: b@y.test', 'Message-ID: <1@x.test>',
      'MIME-Version: 1.0', 'Content-Type: text/plain', 'Subject: hi', '', 'hello']);
    assert.deepEqual(checkHeaders({ raw, text: 'hello', html: '' }), { findings: [], dkim: [] });
  });

  it('names each missing or malformed header', () => {
    assert.deepEqual(rules(crlf(['Subject: hi', 'Content-Type: text/plain', '', 'x'])),
      ['date-missing', 'message-id-missing', 'from-missing', 'mime-version-missing']);
    assert.deepEqual(rules(crlf(['Date: yesterday', 'From: nobody', 'Message-ID: 12345', 'MIME-Version: 2.0', '', 'x'])),
      ['date-malformed', 'message-id-malformed', 'from-malformed', 'mime-version-malformed']);
  });

  it('finds an empty text alternative, List-Unsubscribe without -Post, long lines, raw non-ASCII and repeats', () => {
    const base = ['Date: Mon, 7 Dec 2026 18:00:00 +0000', 'From: a@x.test', 'Message-ID: <1@x.test>', 'MIME-Version: 1.0'];
    assert.deepEqual(rules(crlf([...base, 'Content-Type: multipart/alternative; boundary=b', '', '--b--']), '  ', '<p>hi</p>'), ['alternative-empty-text']);
    assert.deepEqual(rules(crlf([...base, 'List-Unsubscribe: <https://x.test/u>', '', 'x'])), ['list-unsubscribe-post-missing']);
    assert.deepEqual(rules(crlf([...base, 'Precedence: bulk', '', 'x'])), ['list-unsubscribe-missing']);
    assert.deepEqual(rules(crlf([...base, `X-Long: ${'a'.repeat(1000)}`, '', 'x'])), ['line-too-long']);
    assert.deepEqual(rules(crlf([...base, 'Subject: café', '', 'x'])), ['non-ascii']);
    assert.deepEqual(rules(crlf([...base, 'From: b@x.test', '', 'x'])), ['header-repeated']);
  });

  it('checks a DKIM body hash that nodemailer signed, and finds a body changed after signing', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const transport = nodemailer.createTransport({
      streamTransport: true, buffer: true, newline: 'windows',
      dkim: { domainName: 'x.test', keySelector: 'sel', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    });
    const info = await transport.sendMail({ from: 'a@x.test', to: 'b@y.test', subject: 'signed', text: 'line one  \r\nline  two\r\n\r\n\r\n' });
    const raw = info.message as Buffer;
    const report = checkHeaders({ raw, text: 'x', html: '' });
    assert.deepEqual(report.dkim.map((d) => ({ domain: d.domain, selector: d.selector, ok: d.ok })), [{ domain: 'x.test', selector: 'sel', ok: true }]);
    assert.deepEqual(report.findings, []);
    const tampered = Buffer.from(raw.toString('latin1').replace('line one', 'line 1'), 'latin1');
    const bad = checkHeaders({ raw: tampered, text: 'x', html: '' });
    assert.deepEqual(bad.findings.map((f) => f.rule), ['dkim-body-hash']);
    assert.match(bad.findings[0]?.message ?? '', /^DKIM signature of x\.test \(s=sel\): body hash does not match/);
  });

  it('hashes an empty body as RFC 6376 says for simple (one CRLF) and relaxed (nothing)', () => {
    const sha256Crlf = 'frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=';
    const sha256Empty = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
    assert.equal(dkimBodyHash(`a=rsa-sha256; c=simple/simple; d=x.test; s=s; bh=${sha256Crlf}`, Buffer.from('\r\n\r\n')).ok, true);
    assert.equal(dkimBodyHash(`a=rsa-sha256; c=relaxed/relaxed; d=x.test; s=s; bh=${sha256Empty}`, Buffer.from(' \r\n')).ok, true);
    assert.equal(dkimBodyHash(`a=rsa-sha256; c=relaxed/simple; d=x.test; s=s; bh=${sha256Empty}`, Buffer.from('x')).ok, false);
  });
});

const NEWSLETTER = `<!DOCTYPE html>
<html lang="en"><head>
<meta name="color-scheme" content="light dark">
<style>
  .wrap { display: flex; max-width: 600px; background-image: url(https://cdn.example/bg.png); }
  @media (prefers-color-scheme: dark) { .wrap { background-color: #111 !important; } }
  a:hover { color: rgba(0, 0, 0, 0.5); }
</style>
<link rel="stylesheet" href="https://cdn.example/fonts.css">
</head>
<body>
<!-- preheader -->
<div class="wrap"><svg width="10" height="10"></svg>
<table cellpadding="0" align="center"><tr><td style="padding: 1em; border-radius: 4px">Hi</td></tr></table>
<img src="https://cdn.example/logo.webp" alt=""></div>
</body></html>`;

describe('HTML check', () => {
  it('finds the features a newsletter uses, with where they occur', () => {
    const found = findFeatures(NEWSLETTER);
    assert.deepEqual([...found.found.keys()].sort(), [
      'css-at-media', 'css-at-media-prefers-color-scheme', 'css-background-color', 'css-background-image', 'css-border-radius', 'css-display',
      'css-display-flex', 'css-important', 'css-max-width', 'css-padding', 'css-pseudo-class-hover', 'css-rgba', 'css-selector-class',
      'css-unit-em', 'css-unit-px', 'html-align', 'html-body', 'html-cellpadding', 'html-comments', 'html-div', 'html-doctype', 'html-height',
      'html-img', 'html-lang', 'html-link', 'html-meta-color-scheme', 'html-style', 'html-svg', 'html-table', 'html-width', 'image-webp',
    ]);
    assert.deepEqual(found.found.get('css-display-flex')?.places, [{ line: 5, excerpt: 'flex; max-width: 600px; background-image: url(https://cdn.ex' }]);
    assert.deepEqual([...found.remote].sort(), ['https://cdn.example/bg.png', 'https://cdn.example/fonts.css', 'https://cdn.example/logo.webp']);
  });

  it('scores per client from caniemail, partial support counted half', () => {
    const report = checkHtml(NEWSLETTER, selectClients('gmail.desktop-webmail,apple-mail.*'));
    assert.match(report.dataDate, /^\d{4}-\d\d-\d\d/);
    assert.deepEqual(report.clients.map((c) => c.client), ['apple-mail.ios', 'apple-mail.macos', 'gmail.desktop-webmail']);
    for (const c of report.clients) {
      const known = c.supported + c.partial + c.unsupported;
      assert.equal(c.score, (c.supported + c.partial / 2) / known);
    }
    const gmail = report.clients.find((c) => c.client === 'gmail.desktop-webmail');
    const apple = report.clients.find((c) => c.client === 'apple-mail.macos');
    assert.ok(gmail && apple && gmail.score < apple.score, `Apple Mail supports more of this than Gmail: ${gmail?.score} vs ${apple?.score}`);
    const svg = report.features.find((f) => f.slug === 'html-svg');
    assert.equal(svg?.support['gmail.desktop-webmail']?.support, 'n');
    assert.equal(svg?.support['apple-mail.ios']?.support, 'y');
    assert.equal(report.score, report.clients.reduce((s, c) => s + c.score, 0) / 3);
  });

  it('refuses an unknown client family, naming it', () => {
    assert.throws(() => selectClients('gmail.*,hotmale.*'), /^Error: clients: "hotmale\.\*" matches no client \(families: gmail, outlook/);
  });
});
