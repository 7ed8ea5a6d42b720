/**
 * Side by side: for each Mailpit endpoint, mailwire's answer beside the example written from Mailpit's own OpenAPI
 * file (test/fixtures/mailpit/swagger-examples.json): the same field names, each of the same JSON type, at every depth.
 * Nothing is downloaded: the fixture is committed with Mailpit's MIT licence.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startService, type RunningService } from '../../../src/service.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { quietDisplay } from '../../../src/smtp/server/display.js';
import type { MessageStore } from '../../../src/store/types.js';

const EXAMPLES = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../test/fixtures/mailpit/swagger-examples.json', import.meta.url)), 'utf8')) as Record<string, unknown>;
/** Fields Mailpit's server sends beyond its swagger (server/apiv1: "legacy - now undocumented"), which mailwire sends too. */
const UNDOCUMENTED = new Set(['messages.count', 'MessageRelay.RecipientAllowlist', 'count']);

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every difference of names or types between the example and the answer, as "path: why" lines. */
function shapeDiff(example: unknown, ours: unknown, path = ''): string[] {
  const where = path === '' ? '(top)' : path;
  if (kind(example) !== kind(ours)) return [`${where}: ${kind(ours)} where Mailpit has ${kind(example)}`];
  if (Array.isArray(example) && Array.isArray(ours)) return ours.length === 0 ? [] : shapeDiff(example[0], ours[0], `${path}[0]`);
  if (kind(example) !== 'object') return [];
  const e = example as Record<string, unknown>;
  const o = ours as Record<string, unknown>;
  const keys = Object.keys(e);
  if (keys.length === 1 && keys[0] === 'key') return Object.entries(o).flatMap(([k, v]) => shapeDiff(e['key'], v, `${path}.${k}`)); // a map
  const out: string[] = [];
  for (const k of keys) {
    if (!(k in o)) out.push(`${path === '' ? k : `${path}.${k}`}: missing`);
    else out.push(...shapeDiff(e[k], o[k], path === '' ? k : `${path}.${k}`));
  }
  for (const k of Object.keys(o)) {
    const p = path === '' ? k : `${path}.${k}`;
    if (!(k in e) && !UNDOCUMENTED.has(p) && !UNDOCUMENTED.has(k)) out.push(`${p}: not in Mailpit's answer`);
  }
  return out;
}

describe('Mailpit\'s documented answers beside mailwire\'s (field names and types)', () => {
  let service: RunningService;
  let base: string;
  let id: string;
  before(async () => {
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 },
    });
    base = `http://127.0.0.1:${service.http?.port}/mailpit`;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
    await transport.sendMail({
      from: 'Ann <ann@a.test>', to: 'bob@b.test', cc: 'cat@c.test', bcc: 'dan@d.test', replyTo: 'desk@a.test', subject: 'Shape',
      text: 'text', html: '<p>html <img src="cid:i@a"></p>', list: { unsubscribe: 'https://a.test/u' },
      attachments: [{ filename: 'a.txt', content: 'a' }, { filename: 'i.png', content: 'png', cid: 'i@a' }],
    });
    transport.close();
    const store = service.store as MessageStore;
    const deadline = Date.now() + 10_000;
    while ((await store.listMessages({})).items.length === 0) {
      if (Date.now() > deadline) throw new Error('waited 10 s for the message');
      await new Promise((r) => setTimeout(r, 20));
    }
    id = (await store.listMessages({})).items[0]!.id;
  });
  after(async () => service.close());

  const cases: [string, string, RequestInit?][] = [
    ['GET /api/v1/info', '/api/v1/info'],
    ['GET /api/v1/webui', '/api/v1/webui'],
    ['GET /api/v1/messages', '/api/v1/messages'],
    ['GET /api/v1/search', '/api/v1/search?query=subject:shape'],
    ['GET /api/v1/message/{ID}', '/api/v1/message/{ID}'],
    ['GET /api/v1/message/{ID}/headers', '/api/v1/message/{ID}/headers'],
    ['GET /api/v1/chaos', '/api/v1/chaos'],
    ['PUT /api/v1/chaos', '/api/v1/chaos', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"Sender": {"ErrorCode": 451, "Probability": 0}}' }],
    ['POST /api/v1/send', '/api/v1/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"From": {"Email": "a@a.test"}, "To": [{"Email": "b@b.test"}], "Subject": "s"}' }],
    ['GET /api/v1/tags', '/api/v1/tags'],
  ];
  for (const [name, path, init] of cases) {
    it(name, async () => {
      const example = EXAMPLES[name];
      assert.ok(example !== undefined, `the fixture has ${name}`);
      const res = await fetch(`${base}${path.replace('{ID}', id)}`, init);
      assert.equal(res.status, 200);
      const ours = (await res.json()) as unknown;
      if (name === 'GET /api/v1/tags') assert.deepEqual(ours, []); // mailwire has no tags: an empty list of strings
      assert.deepEqual(shapeDiff(example, ours), []);
    });
  }

  it('the comparison itself sees a renamed field and a wrong type', () => {
    assert.deepEqual(shapeDiff({ A: 'string', B: [{ C: 0 }] }, { A: 1, B: [{ D: 0 }] }), [
      'A: number where Mailpit has string', 'B[0].C: missing', "B[0].D: not in Mailpit's answer",
    ]);
  });
});
