/**
 * waitForMessage's `receivedAfter` and `count`, through the package's public entry point against a real server, with
 * mail sent by nodemailer; and the wait route's own answers to them (400s, the instant `now` stood for).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer, { type Transporter } from 'nodemailer';
import { MailwireTimeoutError, startMailwire, type Mailwire } from 'mailwire';

let mailwire: Mailwire;
let transport: Transporter;
before(async () => {
  mailwire = await startMailwire();
  transport = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
});
after(async () => {
  transport.close();
  await mailwire.close();
});

const send = (to: string, subject: string, text = `Code 4${subject.length}2817 at https://app.test/c/${encodeURIComponent(subject)}`): Promise<unknown> =>
  transport.sendMail({ from: 'app@x.test', to, subject, text });

describe('waitForMessage({ receivedAfter })', () => {
  it("'now' ignores the mail already there and answers with the next one", async () => {
    const to = 'ra-now@x.test';
    await send(to, 'before the call');
    const old = await mailwire.waitForMessage({ to, timeout: 5000 });
    assert.equal(old.subject, 'before the call');
    await assert.rejects(mailwire.waitForMessage({ to, receivedAfter: 'now', timeout: 0 }), MailwireTimeoutError);
    const waiting = mailwire.waitForMessage({ to, receivedAfter: 'now', timeout: 10_000 });
    await send(to, 'after the call');
    const m = await waiting;
    assert.equal(m.subject, 'after the call');
    assert.notEqual(m.id, old.id);
    assert.deepEqual(m.links, ['https://app.test/c/after%20the%20call']);
    assert.deepEqual(m.codes, ['4142817']);
  });

  it('a Date: the mail received from then on, not before', async () => {
    const to = 'ra-date@x.test';
    const start = new Date();
    await send(to, 'dated');
    assert.equal((await mailwire.waitForMessage({ to, receivedAfter: start, timeout: 5000 })).subject, 'dated');
    await assert.rejects(mailwire.waitForMessage({ to, receivedAfter: new Date(Date.now() + 60_000), timeout: 0 }), MailwireTimeoutError);
    await assert.rejects(mailwire.waitForMessage({ to, receivedAfter: new Date(Number.NaN) }), RangeError);
  });
});

describe('waitForMessage({ count })', () => {
  it('resolves with N messages, oldest first, each with its links and codes, once the N-th has come', async () => {
    const to = 'count@x.test';
    const waiting = mailwire.waitForMessage({ to, count: 3, timeout: 15_000 });
    await send(to, 'one');
    await send(to, 'two');
    await mailwire.waitForMessage({ to, subject: 'two', timeout: 5000 });
    await assert.rejects(mailwire.waitForMessage({ to, count: 3, timeout: 0 }), MailwireTimeoutError, 'two of three are not enough');
    await send(to, 'three');
    const got = await waiting;
    assert.deepEqual(got.map((m) => m.subject), ['one', 'two', 'three']);
    assert.deepEqual(got.map((m) => m.codes), [['432817'], ['432817'], ['452817']]);
    assert.deepEqual(got.map((m) => m.links), [['https://app.test/c/one'], ['https://app.test/c/two'], ['https://app.test/c/three']]);
    // count with receivedAfter: only the later ones count.
    const later = mailwire.waitForMessage({ to, count: 1, receivedAfter: 'now', timeout: 10_000 });
    await send(to, 'four');
    assert.deepEqual((await later).map((m) => m.subject), ['four']);
    await assert.rejects(mailwire.waitForMessage({ to, count: 0 }), RangeError);
  });
});

describe('GET /api/v1/messages/wait: count and receivedAfter', () => {
  const get = async (params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await fetch(`${mailwire.url}/api/v1/messages/wait?${new URLSearchParams(params)}`);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it("names the instant 'now' stood for, so that the next poll waits from it", async () => {
    const to = 'echo@x.test';
    const t0 = Date.now();
    const first = await get({ query: `to:${to}`, receivedAfter: 'now', timeout: '0' });
    assert.equal(first.status, 408);
    const instant = String(first.body['receivedAfter']);
    assert.ok(Date.parse(instant) >= t0 - 5 && Date.parse(instant) <= Date.now(), instant);
    await send(to, 'in between');
    const second = await get({ query: `to:${to}`, receivedAfter: instant, timeout: '5' });
    assert.equal(second.status, 200);
    assert.equal((second.body['message'] as { subject: string }).subject, 'in between');
    assert.equal(second.body['receivedAfter'], instant);
  });

  it('refuses a bad count or receivedAfter, and count with after, with one line saying why', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ count: '0' }, 'count must be a whole number from 1 to 1000'],
      [{ count: '1001' }, 'count must be a whole number from 1 to 1000'],
      [{ receivedAfter: 'yesterday' }, 'receivedAfter must be "now" or an ISO time like 2026-01-31T12:00:00.000Z, not "yesterday"'],
      [{ count: '2', after: 'x' }, 'count and after cannot be used together: count waits for the newest matches'],
    ];
    for (const [params, message] of cases) {
      const r = await get({ ...params, timeout: '0' });
      assert.deepEqual([r.status, r.body], [400, { error: { code: 'bad_request', message } }], JSON.stringify(params));
    }
  });
});
