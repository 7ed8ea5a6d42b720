/**
 * Hostile mail costs only its sender (issue 25): a 192 KB HTML-only mail of unclosed `<` once held every other
 * sender's 250 on the SQLite writer for over 10 s (its HTML turned into text in quadratic time), and a message
 * postal-mime refuses was stored with an empty summary, invisible to subject: and from: searches.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { crlf, tempDir } from '../helpers/mail.js';
import { sendSimplified } from '../helpers/send.js';

type Summary = { id: string; subject: string; from: { address: string } | null; indexLimited: boolean };
type Page = { messages: Summary[] };

/** HTML-only: `bytes` of `unit` repeated, in lines of 76. */
function hostileHtml(unit: string, subject: string, bytes: number): Buffer {
  const line = unit.repeat(Math.ceil(76 / unit.length)).slice(0, 76);
  return crlf(['From: Mallory <mallory@m.test>', `Subject: ${subject}`, 'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '',
    ...Array.from({ length: Math.ceil(bytes / 78) }, () => line)]);
}

/** Multipart nested deeper than postal-mime's 256 levels: it refuses the message. */
function tooDeep(subject: string): Buffer {
  const lines = ['From: Deep Diver <deep@d.test>', `Subject: ${subject}`, 'MIME-Version: 1.0'];
  for (let k = 0; k < 300; k++) lines.push(`Content-Type: multipart/mixed; boundary="b${k}"`, '', `--b${k}`);
  lines.push('Content-Type: text/plain', '', 'the bottom');
  return crlf(lines);
}

describe('hostile mail on the SQLite store', () => {
  let service: RunningService;
  let dir: string;
  let api: string;
  let smtpPort: number;
  const page = async (query: string): Promise<Page> =>
    (await (await fetch(`${api}/api/v1/messages?query=${encodeURIComponent(query)}`)).json()) as Page;
  /** The messages matching `query`, once there are `n`. */
  const searchable = async (query: string, n: number, deadlineMs = 10_000): Promise<Summary[]> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const p = await page(query);
      if (p.messages.length >= n) return p.messages;
      if (Date.now() > deadline) throw new Error(`${query}: ${p.messages.length} of ${n} messages searchable after ${deadlineMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    dir = tempDir();
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'sqlite', dataDir: dir, maxMessages: 0 },
      http: { host: '127.0.0.1', port: 0 },
    });
    assert.ok(service.http);
    api = `http://127.0.0.1:${service.http.port}`;
    smtpPort = service.smtp.port;
  });
  after(async () => {
    await service.close(2000);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Seconds for each of `n` honest messages, connection to 250. */
  const honestSends = async (tag: string, n: number): Promise<number[]> => {
    const took: number[] = [];
    for (let k = 0; k < n; k++) {
      const t0 = performance.now();
      assert.deepEqual(await sendSimplified(smtpPort, [{ from: 'ann@a.test', to: 'bob@h.test', raw: crlf([`Subject: ${tag}-${k}`, '', 'hello']) }]), [250]);
      took.push(performance.now() - t0);
    }
    return took;
  };
  /** Milliseconds to GET a message's /html preview (which must answer 200), and its body. */
  const preview = async (id: string): Promise<{ ms: number; body: string }> => {
    const t0 = performance.now();
    const r = await fetch(`${api}/api/v1/messages/${id}/html`);
    const body = await r.text();
    assert.equal(r.status, 200);
    return { ms: performance.now() - t0, body };
  };
  /**
   * A bound on elapsed time that a busy test machine does not break but quadratic work does: 1 s, or 5 times what the
   * same work took on benign input in this run when the machine is slower than that.
   */
  const bound = (baseline: number): number => Math.max(1000, 5 * baseline);

  it('does not hold an honest sender\'s 250 behind a 192 KB HTML mail of unclosed <, and both become searchable', async () => {
    const before = await honestSends('calm', 5);
    assert.deepEqual(await sendSimplified(smtpPort, [{ from: 'mallory@m.test', to: 'victim@h.test', raw: hostileHtml('<', 'hostile-lt', 192 * 1024) }]), [250]);
    // The hostile mail is being indexed now: each honest message, connection to 250, must not wait behind it.
    const during = await honestSends('honest', 5);
    assert.ok(Math.max(...during) < bound(Math.max(...before)),
      `honest sends took ${during.map((t) => t.toFixed(0)).join(', ')} ms (before the hostile mail: ${before.map((t) => t.toFixed(0)).join(', ')})`);
    assert.equal((await searchable('subject:honest-', 5)).length, 5);
    const [hostile] = await searchable('subject:hostile-lt', 1);
    assert.ok(hostile);
    assert.equal(hostile.from?.address, 'mallory@m.test');
    assert.equal(hostile.indexLimited, false); // linear now: well within its budget
    const detail = (await (await fetch(`${api}/api/v1/messages/${hostile.id}`)).json()) as { remoteContent: boolean; indexLimited: boolean };
    assert.equal(detail.remoteContent, false);
  });

  it('answers /html of a 192 KB HTML mail of whitespace about as fast as of a benign one', async () => {
    assert.deepEqual(await sendSimplified(smtpPort, [
      { from: 'ann@a.test', to: 'bob@h.test', raw: hostileHtml('<p>hello</p> ', 'benign-html', 192 * 1024) },
      { from: 'mallory@m.test', to: 'victim@h.test', raw: hostileHtml(' \t', 'hostile-ws', 192 * 1024) },
    ]), [250, 250]);
    const [benign] = await searchable('subject:benign-html', 1);
    const [hostile] = await searchable('subject:hostile-ws', 1);
    assert.ok(benign && hostile);
    const baseline = (await preview(benign.id)).ms;
    const { ms, body } = await preview(hostile.id);
    assert.ok(body.startsWith('<base target="_blank"> \t \t'));
    assert.ok(ms < bound(baseline), `/html took ${ms.toFixed(0)} ms (a benign one of the same size: ${baseline.toFixed(0)} ms)`);
  });

  it('keeps the subject and sender of a message postal-mime refuses searchable, flagged indexLimited', async () => {
    assert.deepEqual(await sendSimplified(smtpPort, [{ from: 'deep@d.test', to: 'carol@h.test', raw: tooDeep('refused-nesting') }]), [250]);
    const [bySubject] = await searchable('subject:refused-nesting', 1);
    assert.ok(bySubject);
    assert.equal(bySubject.indexLimited, true);
    assert.equal(bySubject.subject, 'refused-nesting');
    const byFrom = await searchable('from:deep@d.test', 1);
    assert.deepEqual(byFrom.map((m) => m.id), [bySubject.id]);
    const named = await searchable('from:"deep diver"', 1);
    assert.deepEqual(named.map((m) => m.id), [bySubject.id]);
  });
});
