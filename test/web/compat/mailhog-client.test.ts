/**
 * The `mailhog` npm package 4.16, unchanged (basePath '/mailhog/api'), against mailwire's MailHog API: messages,
 * search, latestFrom/To/Containing, releaseMessage, deleteMessage, deleteAll, with their content asserted; the message
 * shape MailHog's server sends; Jim over plain HTTP (the package has no Jim call); the guard's untyped JSON rule.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import nodemailer, { type Transporter } from 'nodemailer';
import mailhog from 'mailhog';
import { startService, type RunningService } from '../../../src/service.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { quietDisplay } from '../../../src/smtp/server/display.js';
import type { MessageStore } from '../../../src/store/types.js';

const smtp = { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay };

/** A request as the mailhog package makes one: node:http, a JSON body written with no Content-Type. */
function untyped(port: number, method: string, path: string, body: string | null, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`waited 10 s for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('mailhog (npm 4.16) against /mailhog', () => {
  let target: RunningService;
  let service: RunningService;
  let transport: Transporter;
  let api: ReturnType<typeof mailhog>;
  let port: number;
  const store = (s: RunningService): MessageStore => s.store as MessageStore;

  before(async () => {
    target = await startService({ smtp, store: { kind: 'memory' }, http: null });
    service = await startService({ smtp, store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 } });
    port = service.http?.port ?? 0;
    api = mailhog({ host: '127.0.0.1', port, basePath: '/mailhog/api' });
    transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
    await transport.sendMail({
      from: 'Ann <ann@a.test>', to: 'Bob <bob@b.test>', cc: 'cat@c.test', subject: 'Confirm your account',
      text: 'Your code is 424242.', html: '<p>Your code is <b>424242</b>.</p>',
      attachments: [{ filename: 'notes.txt', content: 'some notes', contentType: 'text/plain' }],
    });
    await transport.sendMail({ from: 'dan@d.test', to: 'eve@e.test', subject: 'Weekly digest', text: 'Nothing new this week.' });
    await until('two messages', async () => ((await store(service).listMessages({})).items.length === 2 ? true : undefined));
  });
  after(async () => {
    transport.close();
    await service.close();
    await target.close();
  });

  it('messages(): MailHog\'s v2 page, items newest first, with the getters the package adds working', async () => {
    const page = await api.messages();
    assert.ok(page);
    assert.deepEqual([page.total, page.count, page.start], [2, 2, 0]);
    assert.deepEqual(page.items.map((m) => m.subject), ['Weekly digest', 'Confirm your account']);
    const m = page.items[1]!;
    assert.equal(m.from, 'Ann <ann@a.test>');
    assert.equal(m.to, 'Bob <bob@b.test>');
    assert.equal(m.cc, 'cat@c.test');
    // The package reads text and html from the top-level parts only, as against MailHog: here the text/plain attachment.
    assert.equal(m.text, 'some notes');
    assert.equal(page.items[0]!.text?.trim(), 'Nothing new this week.');
    assert.deepEqual(m.attachments.map((a) => [a.name, a.type]), [['notes.txt', 'text/plain; name=notes.txt']]);
    assert.ok(m.deliveryDate instanceof Date && !Number.isNaN(m.deliveryDate.getTime()));
    const second = await api.messages(1, 1);
    assert.deepEqual(second?.items.map((x) => x.subject), ['Confirm your account']);
  });

  it('the message shape as MailHog\'s server sends it: Content.Headers arrays, MIME.Parts split on the boundary, Raw.Data', async () => {
    const id = (await store(service).listMessages({ query: 'subject:confirm' })).items[0]!.id;
    const raw = (await store(service).getRaw(id))!.toString('utf8');
    const res = await fetch(`http://127.0.0.1:${port}/mailhog/api/v1/messages/${id}`);
    assert.equal(res.headers.get('content-type'), 'text/json');
    const m = (await res.json()) as {
      ID: string; From: { Mailbox: string; Domain: string; Relays: null; Params: string }; To: { Mailbox: string; Domain: string }[];
      Content: { Headers: Record<string, string[]>; Body: string; Size: number; MIME: null };
      MIME: { Parts: { Headers: Record<string, string[]>; Body: string; MIME: unknown }[] }; Raw: { From: string; To: string[]; Data: string; Helo: string };
    };
    assert.equal(m.ID, id);
    assert.deepEqual(m.From, { Relays: null, Mailbox: 'ann', Domain: 'a.test', Params: '' });
    assert.deepEqual(m.To.map((p) => `${p.Mailbox}@${p.Domain}`), ['bob@b.test', 'cat@c.test']);
    assert.deepEqual(m.Content.Headers['Subject'], ['Confirm your account']);
    assert.deepEqual(m.Content.Headers['Return-Path'], ['<ann@a.test>']);
    assert.equal(m.Content.MIME, null);
    assert.equal(raw.endsWith('\r\n'), true);
    assert.equal(m.Raw.Data, raw.slice(0, -2), 'Raw.Data is the message without its final CRLF');
    assert.deepEqual([m.Raw.From, m.Raw.To], ['ann@a.test', ['bob@b.test', 'cat@c.test']]);
    assert.equal(m.Content.Body, raw.slice(raw.indexOf('\r\n\r\n') + 4, -2));
    assert.equal(m.Content.Size, Buffer.byteLength(raw) - 2);
    // multipart/mixed: [multipart/alternative (itself split), the attachment, the closing "--"]
    assert.equal(m.MIME.Parts.length, 3);
    assert.match(m.MIME.Parts[0]!.Headers['Content-Type']![0]!, /^multipart\/alternative/);
    assert.equal((m.MIME.Parts[0]!.MIME as { Parts: unknown[] }).Parts.length, 3);
    assert.match(m.MIME.Parts[1]!.Headers['Content-Disposition']![0]!, /^attachment; filename=notes\.txt/);
    assert.deepEqual(m.MIME.Parts[2], { Headers: {}, Body: '--', Size: 2, MIME: null });
    const part = await fetch(`http://127.0.0.1:${port}/mailhog/api/v1/messages/${id}/mime/part/1/download`);
    assert.equal(await part.text(), 'some notes');
    const download = await (await fetch(`http://127.0.0.1:${port}/mailhog/api/v1/messages/${id}/download`)).text();
    assert.match(download, /\r\nSubject: Confirm your account\r\n/);
    const v1 = (await (await fetch(`http://127.0.0.1:${port}/mailhog/api/v1/messages`)).json()) as { ID: string }[];
    assert.equal(v1.length, 2, 'v1 lists an array');
    assert.equal(v1[1]?.ID, id);
  });

  it('search, latestFrom, latestTo, latestContaining', async () => {
    assert.deepEqual((await api.search('ann@a.test', 'from'))?.items.map((m) => m.subject), ['Confirm your account']);
    assert.deepEqual((await api.search('eve', 'to'))?.items.map((m) => m.subject), ['Weekly digest']);
    assert.equal((await api.search('nobody@x.test', 'to'))?.count, 0);
    assert.equal((await api.latestFrom('dan@d.test'))?.subject, 'Weekly digest');
    assert.equal((await api.latestTo('bob@b.test'))?.subject, 'Confirm your account');
    assert.equal((await api.latestTo('cat@c.test'))?.subject, 'Confirm your account', 'an envelope recipient');
    assert.equal((await api.latestContaining('424242'))?.subject, 'Confirm your account');
    assert.equal((await api.latestContaining('nothing new'))?.subject, 'Weekly digest');
    assert.equal(await api.latestContaining('absent-word'), 0, 'the package answers 0 (result.count) when nothing matches');
    assert.equal((await fetch(`http://127.0.0.1:${port}/mailhog/api/v2/search?kind=subject&query=x`)).status, 400);
  });

  it('releaseMessage to an SMTP server on loopback; any other host is refused naming --relay', async () => {
    const id = (await api.latestFrom('dan@d.test'))!.ID;
    const res = await api.releaseMessage(id, { host: '127.0.0.1', port: String(target.smtp.port), email: 'carol@c.test' });
    assert.equal(res.statusCode, 200);
    const relayed = await until('the released message', async () => (await store(target).listMessages({})).items[0]);
    assert.deepEqual(relayed.envelope.to, ['carol@c.test']);
    assert.equal(relayed.subject, 'Weekly digest');
    // MailHog's UI sends the field names capitalised: Go matches them either way, and so does mailwire.
    const ok = await untyped(port, 'POST', `/mailhog/api/v1/messages/${id}/release`, JSON.stringify({ Host: '127.0.0.1', Port: String(target.smtp.port), Email: 'dan@c.test' }));
    assert.deepEqual(ok, { status: 200, text: '' });
    await until('the second release', async () => ((await store(target).listMessages({})).items.length === 2 ? true : undefined));
    const refused = await untyped(port, 'POST', `/mailhog/api/v1/messages/${id}/release`, JSON.stringify({ Host: 'smtp.example.com', Port: '25', Email: 'x@x.test' }));
    assert.equal(refused.status, 400);
    assert.match(refused.text, /--relay .*loopback address; "smtp\.example\.com:25" is neither/);
  });

  it('the untyped JSON body is taken only without Origin and without Sec-Fetch-Site: cross-site', async () => {
    const body = JSON.stringify({ RejectSenderChance: 0 });
    const foreign = await untyped(port, 'POST', '/mailhog/api/v2/jim', body, { Origin: 'http://evil.test' });
    assert.equal(foreign.status, 403);
    const crossSite = await untyped(port, 'POST', '/mailhog/api/v2/jim', body, { 'Sec-Fetch-Site': 'cross-site' });
    assert.equal(crossSite.status, 403, 'a write from another site is refused outright (#25)');
    const elsewhere = await untyped(port, 'PUT', '/api/v1/faults', '{"rules": []}');
    assert.equal(elsewhere.status, 415, 'mailwire\'s own API still wants application/json');
    assert.equal((await fetch(`http://127.0.0.1:${port}/mailhog/api/v2/jim`)).status, 404, 'nothing was turned on');
  });

  it('Jim: 404 while off, POST 201 (as fault rules), GET, PUT, felt over SMTP, DELETE', async () => {
    const base = '/mailhog/api/v2/jim';
    assert.equal((await untyped(port, 'GET', base, null)).status, 404);
    assert.equal((await untyped(port, 'PUT', base, '{}')).status, 404);
    assert.equal((await untyped(port, 'POST', base, JSON.stringify({ RejectRecipientChance: 1, DisconnectChance: 0, AcceptChance: 1, RejectSenderChance: 0 }))).status, 201);
    assert.equal((await untyped(port, 'POST', base, null)).status, 400, 'already on');
    const jim = JSON.parse((await untyped(port, 'GET', base, null)).text) as Record<string, number>;
    assert.deepEqual(jim, {
      DisconnectChance: 0, AcceptChance: 1, LinkSpeedAffect: 0, LinkSpeedMin: 1024, LinkSpeedMax: 10240,
      RejectSenderChance: 0, RejectRecipientChance: 1, RejectAuthChance: 0.05,
    });
    await assert.rejects(transport.sendMail({ from: 'a@a.test', to: 'b@b.test', subject: 'x', text: 'x' }), (e: { responseCode?: number }) => e.responseCode === 550);
    assert.equal((await untyped(port, 'PUT', base, JSON.stringify({ RejectRecipientChance: 0, DisconnectChance: 0, AcceptChance: 1, RejectSenderChance: 0, RejectAuthChance: 0 }))).status, 200);
    assert.equal(JSON.parse((await untyped(port, 'GET', base, null)).text).RejectRecipientChance, 0);
    const bad = await untyped(port, 'PUT', base, JSON.stringify({ LinkSpeedAffect: 0.5 }));
    assert.equal(bad.status, 400);
    assert.match(bad.text, /LinkSpeedAffect must be 0: mailwire's fault rules .* cannot throttle a link/);
    assert.equal((await untyped(port, 'DELETE', base, null)).status, 200);
    assert.equal((await untyped(port, 'GET', base, null)).status, 404);
    assert.deepEqual(service.faults.view().rules, []);
    assert.deepEqual(JSON.parse((await untyped(port, 'GET', '/mailhog/api/v2/outgoing-smtp', null)).text), {});
  });

  it('deleteMessage, then deleteAll', async () => {
    const id = (await api.latestFrom('dan@d.test'))!.ID;
    const res = await api.deleteMessage(id);
    assert.equal(res.statusCode, 200);
    assert.deepEqual((await api.messages())?.items.map((m) => m.subject), ['Confirm your account']);
    assert.equal((await api.deleteAll()).statusCode, 200);
    assert.deepEqual([(await api.messages())?.total, (await api.messages())?.count], [0, 0]);
  });
});
