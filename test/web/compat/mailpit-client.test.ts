/**
 * Mailpit's own client package, `mailpit-api` (MailpitClient), unchanged, against mailwire's Mailpit API under
 * /mailpit: every method it has, each answer's content asserted. Mail arrives over real SMTP (nodemailer); release
 * goes to a second mailwire on loopback.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import nodemailer, { type Transporter } from 'nodemailer';
import { MailpitClient } from 'mailpit-api';
import { Jimp, intToRGBA } from 'jimp';
import { startService, type RunningService } from '../../../src/service.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { quietDisplay } from '../../../src/smtp/server/display.js';
import type { MessageStore } from '../../../src/store/types.js';
import { imageHeader } from '../../../src/web/compat/thumbnail.js';

const smtp = { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay };
const PDF = Buffer.from('%PDF-1.4 not really a pdf\n');
/** 60x30: a red, a green and a blue third; filled to 180x120 its centre is green. */
const PNG = await (() => {
  const image = new Jimp({ width: 60, height: 30, color: 0xff0000ff });
  image.scan(20, 0, 20, 30, (_x, _y, i) => image.bitmap.data.set([0, 200, 0, 255], i));
  image.scan(40, 0, 20, 30, (_x, _y, i) => image.bitmap.data.set([0, 0, 255, 255], i));
  return image.getBuffer('image/png');
})();
/** A PNG's signature and IHDR of a 1x1 image, and nothing more: it cannot be decoded. */
const BROKEN_PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

describe('mailpit-api (MailpitClient) against /mailpit', () => {
  let target: RunningService;
  let service: RunningService;
  let mailpit: MailpitClient;
  let transport: Transporter;
  const store = (s: RunningService): MessageStore => s.store as MessageStore;

  before(async () => {
    target = await startService({ smtp, store: { kind: 'memory' }, http: null });
    service = await startService({
      smtp, store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 }, relay: { server: { host: '127.0.0.1', port: target.smtp.port } },
    });
    mailpit = new MailpitClient(`http://127.0.0.1:${service.http?.port}/mailpit`);
    transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
    await transport.sendMail({
      from: 'Ann Example <ann@a.test>', to: 'Bob <bob@b.test>', cc: 'cat@c.test', bcc: 'hidden@h.test', replyTo: 'Reply Desk <desk@a.test>',
      subject: 'Welcome aboard', text: 'Reset your password within 24 hours.', html: '<p>Reset your <b>password</b></p><img src="cid:logo@a.test">',
      attachments: [
        { filename: 'terms.pdf', content: PDF, contentType: 'application/pdf' },
        { filename: 'logo.png', content: PNG, contentType: 'image/png', cid: 'logo@a.test' },
      ],
    });
    await transport.sendMail({ from: 'dan@d.test', to: 'eve@e.test', subject: 'Invoice 42', text: 'Your invoice is attached.' });
    await waitForCount(2);
  });
  after(async () => {
    transport.close();
    await service.close();
    await target.close();
  });

  async function waitForCount(n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if ((await store(service).listMessages({})).items.length === n) return;
      if (Date.now() > deadline) throw new Error(`waited 10 s for ${n} messages`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  const ids = async (): Promise<{ welcome: string; invoice: string }> => {
    const list = await mailpit.listMessages();
    const id = (subject: string): string => list.messages.find((m) => m.Subject === subject)?.ID ?? assert.fail(`no ${subject}`);
    return { welcome: id('Welcome aboard'), invoice: id('Invoice 42') };
  };

  it('getInfo and getConfiguration', async () => {
    const info = await mailpit.getInfo();
    assert.equal(info.Messages, 2);
    assert.equal(info.Unread, 2);
    assert.match(info.Version, /^mailwire /);
    assert.equal(typeof info.RuntimeStats.Uptime, 'number');
    const conf = await mailpit.getConfiguration();
    assert.equal(conf.MessageRelay.Enabled, true);
    assert.equal(conf.MessageRelay.SMTPServer, `127.0.0.1:${target.smtp.port}`);
    assert.equal(conf.SpamAssassin, false);
    assert.equal(conf.ChaosEnabled, true);
  });

  it('listMessages: Mailpit\'s summary, newest first, start and limit', async () => {
    const all = await mailpit.listMessages();
    assert.deepEqual([all.total, all.unread, all.messages_count, all.start, all.tags], [2, 2, 2, 0, []]);
    assert.deepEqual(all.messages.map((m) => m.Subject), ['Invoice 42', 'Welcome aboard']);
    const w = all.messages[1]!;
    assert.deepEqual(w.From, { Name: 'Ann Example', Address: 'ann@a.test' });
    assert.deepEqual(w.To, [{ Name: 'Bob', Address: 'bob@b.test' }]);
    assert.deepEqual(w.Cc, [{ Name: '', Address: 'cat@c.test' }]);
    assert.deepEqual(w.Bcc, [{ Name: '', Address: 'hidden@h.test' }]); // the envelope recipient no header names
    assert.equal(w.Read, false);
    assert.equal(w.Attachments, 2);
    assert.match(w.Snippet, /^Reset your password within 24 hours/);
    assert.match(w.MessageID, /^[^<>]+@/);
    assert.ok(!Number.isNaN(Date.parse(w.Created)));
    const second = await mailpit.listMessages(1, 1);
    assert.deepEqual([second.start, second.messages_count, second.messages.map((m) => m.Subject)], [1, 2, ['Welcome aboard']]);
  });

  it('searchMessages: Mailpit\'s terms translated, exact where mailwire narrows, 400 naming a term it cannot answer', async () => {
    const subjects = async (query: string): Promise<string[]> => (await mailpit.searchMessages({ query })).messages.map((m) => m.Subject);
    assert.deepEqual(await subjects('subject:welcome'), ['Welcome aboard']);
    assert.deepEqual(await subjects('from:ann@a.test'), ['Welcome aboard']);
    assert.deepEqual(await subjects('to:eve'), ['Invoice 42']);
    assert.deepEqual(await subjects('to:cat@c.test'), []); // Mailpit's to: is the To header only; Cc is cc:
    assert.deepEqual(await subjects('cc:cat@c.test'), ['Welcome aboard']);
    assert.deepEqual(await subjects('bcc:hidden'), ['Welcome aboard']);
    assert.deepEqual(await subjects('-subject:welcome'), ['Invoice 42']);
    assert.deepEqual(await subjects('has:attachment'), ['Welcome aboard']);
    assert.deepEqual(await subjects('"your password"'), ['Welcome aboard']);
    assert.deepEqual(await subjects('invoice is:unread'), ['Invoice 42']);
    assert.deepEqual(await subjects('larger:1kb'), ['Welcome aboard']);
    assert.deepEqual(await subjects('after:2000-01-01 before:2999-01-01'), ['Invoice 42', 'Welcome aboard']);
    assert.deepEqual(await subjects('before:2000-01-01'), []);
    const found = await mailpit.searchMessages({ query: 'subject:welcome' });
    assert.deepEqual([found.total, found.messages_count, found.messages_unread], [2, 1, 1]);
    await assert.rejects(mailpit.searchMessages({ query: 'tag:important' }), /400 Bad Request .*"tag:important" has no mailwire equivalent: mailwire has no message tags/);
    await assert.rejects(mailpit.searchMessages({ query: 'reply-to:desk' }), /400 .*reply-to:desk.* has no mailwire equivalent/);
    await assert.rejects(mailpit.searchMessages({ query: 'after:yesterday' }), /400 .*after: wants a date/);
  });

  it('getMessageSummary: the whole message, attachments with checksums, and it is marked read (headers and raw are not)', async () => {
    const { welcome } = await ids();
    await mailpit.getMessageHeaders(welcome);
    await mailpit.getMessageSource(welcome);
    assert.equal((await mailpit.listMessages()).unread, 2, 'headers and raw leave the message unread, as in Mailpit');
    const m = await mailpit.getMessageSummary(welcome);
    assert.equal(m.ID, welcome);
    assert.equal(m.Subject, 'Welcome aboard');
    assert.deepEqual(m.ReplyTo, [{ Name: 'Reply Desk', Address: 'desk@a.test' }]);
    assert.equal(m.ReturnPath, 'ann@a.test');
    assert.equal(m.Text.trim(), 'Reset your password within 24 hours.');
    assert.match(m.HTML, /<b>password<\/b>/);
    assert.deepEqual(m.Attachments.map((a) => [a.FileName, a.ContentType, a.Size]), [['terms.pdf', 'application/pdf', PDF.length]]);
    assert.equal(m.Attachments[0]!.Checksums.SHA256, createHash('sha256').update(PDF).digest('hex'));
    assert.equal(m.Attachments[0]!.Checksums.MD5, createHash('md5').update(PDF).digest('hex'));
    assert.deepEqual(m.Inline.map((a) => [a.FileName, a.ContentID]), [['logo.png', 'logo@a.test']]);
    assert.deepEqual(m.Tags, []);
    const list = await mailpit.listMessages();
    assert.equal(list.unread, 1);
    assert.equal(list.messages.find((x) => x.ID === welcome)?.Read, true);
    const latest = await mailpit.getMessageSummary();
    assert.equal(latest.Subject, 'Invoice 42', 'the default id is "latest"');
    await assert.rejects(mailpit.getMessageSummary('no-such-id'), /404 Not Found .*404 page not found/);
  });

  it('getMessageHeaders, getMessageSource, getMessageAttachment, getAttachmentThumbnail', async () => {
    const { welcome } = await ids();
    const headers = await mailpit.getMessageHeaders(welcome);
    assert.deepEqual(headers['Subject'], ['Welcome aboard']);
    assert.deepEqual(headers['Reply-To'], ['Reply Desk <desk@a.test>']);
    assert.ok(headers['Message-Id']?.[0], 'keys canonical as Go writes them');
    const source = await mailpit.getMessageSource(welcome);
    assert.equal(source, (await store(service).getRaw(welcome))?.toString('utf8'));
    const m = await mailpit.getMessageSummary(welcome);
    const pdf = await mailpit.getMessageAttachment(welcome, m.Attachments[0]!.PartID);
    assert.equal(pdf.type, 'application/pdf');
    assert.deepEqual(Buffer.from(await pdf.arrayBuffer()), PDF);
    const thumb = Buffer.from(await (await mailpit.getAttachmentThumbnail(welcome, m.Attachments[0]!.PartID)).arrayBuffer());
    assert.deepEqual([thumb[0], thumb[1]], [0xff, 0xd8], 'a JPEG');
    const sof = thumb.indexOf(Buffer.from([0xff, 0xc0]));
    assert.deepEqual([thumb.readUInt16BE(sof + 5), thumb.readUInt16BE(sof + 7)], [120, 180], '180 x 120');
    const image = Buffer.from(await (await mailpit.getAttachmentThumbnail(welcome, m.Inline[0]!.PartID)).arrayBuffer());
    const imageSof = image.indexOf(Buffer.from([0xff, 0xc0]));
    assert.deepEqual([image[0], image[1], image.readUInt16BE(imageSof + 5), image.readUInt16BE(imageSof + 7)], [0xff, 0xd8, 120, 180], 'a 180 x 120 JPEG');
    const decoded = await Jimp.read(image);
    const centre = intToRGBA(decoded.getPixelColor(90, 60));
    const near = (a: number, b: number): boolean => Math.abs(a - b) <= 16;
    assert.ok(near(centre.r, 0) && near(centre.g, 200) && near(centre.b, 0), `the centre is the source's green, not ${JSON.stringify(centre)}`);
    const edge = intToRGBA(decoded.getPixelColor(2, 60));
    assert.ok(near(edge.r, 255) && near(edge.g, 0), `filled and centre-cropped: the left edge is the source's red, not ${JSON.stringify(edge)}`);
  });

  it('renderMessageHTML and renderMessageText mark the message read; cid: images point at the part', async () => {
    const { invoice, welcome } = await ids();
    assert.equal((await mailpit.renderMessageText(invoice)).trim(), 'Your invoice is attached.');
    assert.equal((await mailpit.listMessages()).messages.find((x) => x.ID === invoice)?.Read, true);
    const html = await mailpit.renderMessageHTML(welcome);
    const m = await mailpit.getMessageSummary(welcome);
    assert.match(html, new RegExp(`src="/mailpit/api/v1/message/${welcome}/part/${m.Inline[0]!.PartID}"`));
    await assert.rejects(mailpit.renderMessageHTML(invoice), /404 .*does not contain a HTML part/);
    const res = await fetch(`http://127.0.0.1:${service.http?.port}/mailpit/view/${welcome}.html`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /^sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src data: http:\/\/127\.0\.0\.1:\d+ /);
    assert.doesNotMatch(csp, /allow-scripts|script-src/, 'the sender\'s HTML runs nothing on this origin');
  });

  it('setReadStatus by IDs, by search, all; both at once is a 400', async () => {
    const { welcome, invoice } = await ids();
    assert.equal(await mailpit.setReadStatus({ IDs: [welcome, invoice], Read: false }), 'ok');
    assert.equal((await mailpit.listMessages()).unread, 2);
    assert.equal(await mailpit.setReadStatus({ Search: 'subject:invoice', Read: true }), 'ok');
    assert.deepEqual((await mailpit.listMessages()).messages.map((m) => [m.Subject, m.Read]), [['Invoice 42', true], ['Welcome aboard', false]]);
    assert.equal(await mailpit.setReadStatus({ Read: true }), 'ok');
    assert.equal((await mailpit.listMessages()).unread, 0);
    assert.equal(await mailpit.setReadStatus(), 'ok'); // all unread
    assert.equal((await mailpit.listMessages()).unread, 2);
    await assert.rejects(mailpit.setReadStatus({ IDs: [welcome], Search: 'x', Read: true }), /400 .*either IDs or a search query/);
  });

  it('sendMessage composes and stores the message; waitForMessage finds it', async () => {
    const waiting = mailpit.waitForMessage({ query: 'subject:"Sent by API"' }, { timeout: 10_000, interval: 50 });
    const sent = await mailpit.sendMessage({
      From: { Email: 'api@a.test', Name: 'The API' }, To: [{ Email: 'zoe@z.test', Name: 'Zoe' }], Bcc: ['quiet@q.test'],
      Subject: 'Sent by API', Text: 'plain words', HTML: '<p>html words</p>', Headers: { 'X-Campaign': 'spring' },
      Attachments: [{ Content: Buffer.from('hello file').toString('base64'), Filename: 'hello.txt', ContentType: 'text/plain' }],
    });
    assert.match(sent.ID, /\S/);
    const found = await waiting;
    assert.equal(found.ID, sent.ID);
    assert.deepEqual(found.From, { Name: 'The API', Address: 'api@a.test' });
    assert.deepEqual(found.To, [{ Name: 'Zoe', Address: 'zoe@z.test' }]);
    assert.deepEqual(found.Bcc, [{ Name: '', Address: 'quiet@q.test' }]);
    assert.equal(found.Text.trim(), 'plain words');
    assert.deepEqual(found.Attachments.map((a) => [a.FileName, a.Size]), [['hello.txt', 10]]);
    assert.deepEqual((await mailpit.getMessageHeaders(sent.ID))['X-Campaign'], ['spring']);
    await assert.rejects(mailpit.sendMessage({ From: { Email: 'not an address' }, To: [], Subject: 'x' }), /400 .*"Error":"invalid From address: not an address"/);
    await assert.rejects(mailpit.sendMessage({ From: { Email: 'a@a.test' }, To: [], Headers: { Subject: 'x' } }), /400 .*cannot overwrite header: \\"Subject\\"/);
    const many = await mailpit.waitForMessages({ count: 3 }, { timeout: 5_000, interval: 50 });
    assert.equal(many.messages_count, 3);
  });

  it('releaseMessage sends the message on to --relay', async () => {
    const { invoice } = await ids();
    assert.equal(await mailpit.releaseMessage(invoice, { To: ['carol@c.test'] }), 'ok');
    const relayed = await waitForRelayed();
    assert.deepEqual(relayed.envelope.to, ['carol@c.test']);
    assert.match(relayed.subject, /Invoice 42/);
    await assert.rejects(mailpit.releaseMessage(invoice, { To: ['not an address'] }), /400 .*Invalid email address: not an address/);
  });
  async function waitForRelayed(): Promise<{ envelope: { to: readonly string[] }; subject: string }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const items = (await store(target).listMessages({})).items;
      if (items[0]) return items[0];
      if (Date.now() > deadline) throw new Error('waited 10 s for the released message');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('htmlCheck and linkCheck answer from mailwire\'s checks in Mailpit\'s shapes; spamAssassinCheck is 404 without a checker, as Mailpit', async () => {
    const { welcome } = await ids();
    const html = await mailpit.htmlCheck(welcome);
    assert.equal(html.Total?.Nodes, 3, 'p, b and img');
    assert.equal(html.Total?.Tests, 2, 'html-p and html-img have caniemail entries; <b> has none');
    const total = html.Total as { Supported: number; Partial: number; Unsupported: number };
    assert.ok(Math.abs(total.Supported + total.Partial + total.Unsupported - 100) < 0.1, JSON.stringify(html.Total));
    assert.ok(Object.keys(html.Platforms ?? {}).includes('desktop-webmail'));
    assert.deepEqual(await mailpit.linkCheck(welcome), { Errors: 0, Links: [] }, 'a cid: image is no link');
    await assert.rejects(mailpit.spamAssassinCheck(welcome), /404 .*404 page not found/);
  });

  it('tags: none, and setting them is refused', async () => {
    assert.deepEqual(await mailpit.getTags(), []);
    const { welcome } = await ids();
    await assert.rejects(mailpit.setTags({ IDs: [welcome], Tags: ['a'] }), /400 .*no message tags/);
    await assert.rejects(mailpit.renameTag('a', 'b'), /400 .*no message tags/);
    await assert.rejects(mailpit.deleteTag('a'), /400 .*no message tags/);
  });

  it('Chaos triggers are mailwire fault rules: set, read back, felt over SMTP, reset', async () => {
    assert.deepEqual(await mailpit.getChaosTriggers(), {
      Sender: { ErrorCode: 451, Probability: 0 }, Recipient: { ErrorCode: 451, Probability: 0 }, Authentication: { ErrorCode: 535, Probability: 0 },
    });
    const set = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 100 } });
    assert.deepEqual(set.Recipient, { ErrorCode: 550, Probability: 100 });
    assert.deepEqual(set.Sender, { ErrorCode: 451, Probability: 0 });
    assert.deepEqual(service.faults.view().rules.map((r) => [r['on'], r['probability'], r['reply']]), [
      ['mail', 0, '451 Chaos sender error'], ['rcpt', 1, '550 Chaos recipient error'], ['auth', 0, '535 Chaos authentication error'],
    ]);
    await assert.rejects(transport.sendMail({ from: 'a@a.test', to: 'b@b.test', subject: 'x', text: 'x' }), (e: { responseCode?: number; response?: string }) => {
      assert.equal(e.responseCode, 550);
      assert.match(e.response ?? '', /Chaos recipient error/);
      return true;
    });
    await assert.rejects(mailpit.setChaosTriggers({ Sender: { ErrorCode: 200, Probability: 1 } }), /400 .*error code must be between 400 and 599/);
    await mailpit.setChaosTriggers();
    assert.deepEqual(service.faults.view().rules, []);
  });

  it('deleteMessagesBySearch, deleteMessages by IDs, then all', async () => {
    const { welcome, invoice } = await ids();
    assert.equal(await mailpit.deleteMessagesBySearch({ query: 'subject:welcome' }), 'ok');
    assert.equal((await mailpit.listMessages()).messages.some((m) => m.ID === welcome), false);
    assert.equal(await mailpit.deleteMessages({ IDs: [invoice] }), 'ok');
    assert.equal((await mailpit.listMessages()).messages.some((m) => m.ID === invoice), false);
    assert.ok((await mailpit.listMessages()).total > 0);
    assert.equal(await mailpit.deleteMessages(), 'ok');
    assert.equal((await mailpit.listMessages()).total, 0);
    assert.equal((await mailpit.getInfo()).Messages, 0);
  });
});

describe('mailpit-api getAttachmentThumbnail of an image that must not be decoded', () => {
  let service: RunningService;
  let mailpit: MailpitClient;
  let transport: Transporter;
  /** A PNG header declaring 10000x10000 pixels (100 megapixels), and nothing after it. */
  const HUGE_PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000027100000271008060000001f15c489', 'hex');

  before(async () => {
    service = await startService({ smtp, store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 } });
    mailpit = new MailpitClient(`http://127.0.0.1:${service.http?.port}/mailpit`);
    transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
    await transport.sendMail({
      from: 'ann@a.test', to: 'bob@b.test', subject: 'Pictures', text: 'See the pictures.',
      attachments: [
        { filename: 'broken.png', content: BROKEN_PNG, contentType: 'image/png' },
        { filename: 'huge.png', content: HUGE_PNG, contentType: 'image/png' },
        { filename: 'fine.png', content: PNG, contentType: 'image/png' },
        { filename: 'clear.png', content: await new Jimp({ width: 30, height: 20, color: 0x00000000 }).getBuffer('image/png'), contentType: 'image/png' },
      ],
    });
  });
  after(async () => {
    transport.close();
    await service.close();
  });

  it('an undecodable PNG and one declaring 100 megapixels are 400s naming why; the server goes on answering; transparency is white', async () => {
    const deadline = Date.now() + 10_000;
    while ((await mailpit.listMessages()).total === 0) {
      if (Date.now() > deadline) throw new Error('waited 10 s for the message');
      await new Promise((r) => setTimeout(r, 20));
    }
    const id = (await mailpit.listMessages()).messages[0]!.ID;
    const parts = (await mailpit.getMessageSummary(id)).Attachments.map((a) => a.PartID);
    assert.equal(parts.length, 4);
    await assert.rejects(mailpit.getAttachmentThumbnail(id, parts[0]!), /400 .*the image cannot be decoded: /);
    await assert.rejects(mailpit.getAttachmentThumbnail(id, parts[1]!), /400 .*10000x10000 pixels, over the 40000000/);
    assert.equal((await mailpit.getInfo()).Messages, 1, 'still answering');
    const fine = Buffer.from(await (await mailpit.getAttachmentThumbnail(id, parts[2]!)).arrayBuffer());
    assert.deepEqual([fine[0], fine[1]], [0xff, 0xd8], 'and still making thumbnails');
    assert.deepEqual(imageHeader(fine), { format: 'jpeg', width: 180, height: 120 }, 'a JPEG\'s size is read from its SOF, undecoded');
    assert.deepEqual(imageHeader(PNG), { format: 'png', width: 60, height: 30 });
    const clear = await Jimp.read(Buffer.from(await (await mailpit.getAttachmentThumbnail(id, parts[3]!)).arrayBuffer()));
    const centre = intToRGBA(clear.getPixelColor(90, 60));
    assert.ok(centre.r > 245 && centre.g > 245 && centre.b > 245, `transparent shows white, not ${JSON.stringify(centre)}`);
  });
});
