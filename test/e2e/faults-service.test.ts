/**
 * Fault injection through the whole service: /api/v1/faults (PUT replaces, GET shows the counters, DELETE clears, a bad
 * document is a 400 naming the field and nothing is half-applied), /metrics per rule, the session record, what
 * `mailwire send` and `mailwire bench --json` show, `--faults FILE` at start, and `--workers 2` counting in the primary.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PreparedMessage } from '../../src/smtp/client/prepared.js';
import { runLoad } from '../../src/loadgen/load.js';
import { benchMessage } from '../../src/loadgen/message.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { MailwireApiError, startMailwire } from 'mailwire';
import nodemailer from 'nodemailer';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/mail.js';
import { waitFor } from '../helpers/wait.js';

type View = { seed: number; rules: (Record<string, unknown> & { matched: number; fired: number })[] };

function start(dialect = smtpDialect, faults?: unknown): Promise<RunningService> {
  return startService({
    smtp: { host: '127.0.0.1', port: 0, dialect, limits: resolveLimits(), display: quietDisplay },
    store: { kind: 'memory' },
    http: { host: '127.0.0.1', port: 0 },
    ...(faults === undefined ? {} : { faults }),
  });
}

describe('fault injection through the service', () => {
  let service: RunningService;
  let api = '';
  before(async () => {
    service = await start();
    assert.ok(service.http);
    api = `http://127.0.0.1:${service.http.port}`;
  });
  after(() => service.close(1000));

  const put = (body: string) => fetch(`${api}/api/v1/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
  const get = async (): Promise<View> => (await (await fetch(`${api}/api/v1/faults`)).json()) as View;

  it('PUT puts a document in force, GET shows each rule as given with matched and fired, DELETE clears', async () => {
    const doc = { seed: 42, rules: [{ on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' }, { on: 'mail', every: 2, reply: '451 4.3.0 Try again later' }] };
    const r = await put(JSON.stringify(doc));
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { seed: 42, rules: doc.rules.map((x) => ({ ...x, matched: 0, fired: 0 })) });

    const out = await runChild(process.execPath, ['bin/mailwire.js', 'send', '--server', `127.0.0.1:${service.smtp.port}`,
      '--from', 'a@x.test', '--to', 'gone@bounce.test', '--body', 'hi'], { timeoutMs: 15_000 });
    // mailwire send shows the injected reply like any other, and fails.
    assert.match(out.stdout, /^<- 550 5\.1\.1 No such user here {2}\(/m);
    assert.notEqual(out.code, 0);

    const view = await get();
    assert.deepEqual(view.rules.map((x) => [x.matched, x.fired]), [[1, 1], [1, 0]]);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    assert.match(metrics, /^mailwire_faults_injected_total\{rule="1"\} 1$/m);

    const sessions = (await (await fetch(`${api}/api/v1/sessions`)).json()) as { sessions: { id: string; connection: { faults?: number[] } }[] };
    const faulted = sessions.sessions.find((s) => s.connection.faults !== undefined);
    assert.deepEqual(faulted?.connection.faults, [1]);
    const detail = (await (await fetch(`${api}/api/v1/sessions/${faulted?.id ?? ''}`)).json()) as { transcript: { dir: string; text: string }[] };
    const texts = detail.transcript.map((l) => `${l.dir} ${l.text}`);
    const at = texts.indexOf('info [fault: rule 1]');
    assert.deepEqual(texts.slice(at - 1, at + 2), ['client RCPT TO:<gone@bounce.test>', 'info [fault: rule 1]', 'server 550 5.1.1 No such user here']);

    const cleared = await fetch(`${api}/api/v1/faults`, { method: 'DELETE' });
    assert.deepEqual(await cleared.json(), { seed: 0, rules: [] });
    assert.equal(service.faults.active(), false);
  });

  it('a bad document is a 400 naming the field and why, and the document in force stays as it was', async () => {
    assert.equal((await put(JSON.stringify({ rules: [{ on: 'mail', first: 1, reply: '451 4.3.0 x' }] }))).status, 200);
    const bad = await put(JSON.stringify({ rules: [{ on: 'mail', delay: '1s' }, { on: 'mail', delay: '1s' }, { on: 'mail', every: 0, reply: '451 4.3.0 x' }] }));
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: { code: 'bad_request', message: 'rules[2].every: must be a whole number ≥ 1' } });
    const notJson = await put('{"rules": [');
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: { message: string } }).error.message, /^body must be JSON/);
    assert.deepEqual((await get()).rules.map((r) => r['first']), [1]);
    await fetch(`${api}/api/v1/faults`, { method: 'DELETE' });
  });

  it('mailwire bench --json tallies the injected replies by code', async () => {
    assert.equal((await put(JSON.stringify({ rules: [{ on: 'mail', every: 2, reply: '451 4.3.0 Try again later' }] }))).status, 200);
    const raw = benchMessage(300, 'a@x.test', ['b@y.test']);
    const { report } = await runLoad({
      client: { host: '127.0.0.1', port: service.smtp.port, timeoutMs: 5000 },
      from: 'a@x.test', to: ['b@y.test'], message: PreparedMessage.from(raw), connections: 1, amount: { messages: 10 },
    });
    assert.deepEqual([report.accepted, report.failed, report.errors], [5, 5, { '451': 5 }]);
    assert.deepEqual((await get()).rules.map((r) => [r.matched, r.fired]), [[10, 5]]);
    await fetch(`${api}/api/v1/faults`, { method: 'DELETE' });
  });
});

describe('fault injection and the simplified dialect', () => {
  it('PUT refuses a reply rule with a 400 saying why; a delay rule is taken', async () => {
    const service = await start(simplifiedDialect);
    try {
      assert.ok(service.http);
      const url = `http://127.0.0.1:${service.http.port}/api/v1/faults`;
      const r = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: [{ on: 'rcpt', reply: '550 5.1.1 No such user here' }] }) });
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), { error: { code: 'bad_request', message: 'rules[0].reply: the simplified dialect\'s replies are fixed by its text, so it takes only "delay" and "disconnect" rules (use --dialect smtp for replies)' } });
      assert.equal((await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: [{ on: 'mail', delay: '10ms' }] }) })).status, 200);
    } finally {
      await service.close(1000);
    }
  });

  it('mailwire server --faults with a reply rule exits with the reason', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'faults.json');
      writeFileSync(file, JSON.stringify({ rules: [{ on: 'rcpt', reply: '550 5.1.1 No such user here' }] }));
      const out = await runChild(process.execPath, ['bin/mailwire.js', 'server', '--port', '0', '--no-http', '--store', 'none', '--faults', file]);
      assert.equal(out.code, 1);
      assert.equal(out.stderr.trim(), `--faults ${file}: rules[0].reply: the simplified dialect's replies are fixed by its text, so it takes only "delay" and "disconnect" rules (use --dialect smtp for replies)`);
      writeFileSync(file, '{"rules": [}');
      const bad = await runChild(process.execPath, ['bin/mailwire.js', 'server', '--port', '0', '--no-http', '--store', 'none', '--faults', file]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, new RegExp(`^--faults ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*JSON`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fault injection with --workers 2', () => {
  it('counts in the primary: every 2nd MAIL over both workers is refused, exactly', async () => {
    const dir = tempDir();
    const file = join(dir, 'faults.json');
    writeFileSync(file, JSON.stringify({ rules: [{ on: 'mail', every: 2, reply: '451 4.3.0 Try again later' }] }));
    const child = spawn(process.execPath, [
      'bin/mailwire.js', 'server', '--quiet', '--dialect', 'smtp', '--workers', '2', '--port', '0', '--http-port', '0',
      '--store', 'memory', '--faults', file,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await waitFor('the server to say where its API is', () => /HTTP API on/.test(out) || child.exitCode !== null, { deadlineMs: 30_000, seen: () => out });
      const smtpPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const api = /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(smtpPort > 0 && api !== undefined, out);
      // Each worker learns a document is loaded when it says it listens; wait until both have served a session.
      const raw = benchMessage(200, 'a@x.test', ['b@y.test']);
      const results = await Promise.all(Array.from({ length: 8 }, () => runLoad({
        client: { host: '127.0.0.1', port: smtpPort, timeoutMs: 5000 },
        from: 'a@x.test', to: ['b@y.test'], message: PreparedMessage.from(raw), connections: 1, amount: { messages: 2 },
      })));
      const failed = results.reduce((n, r) => n + r.report.failed, 0);
      const accepted = results.reduce((n, r) => n + r.report.accepted, 0);
      assert.deepEqual([accepted, failed], [8, 8], JSON.stringify(results.map((r) => r.report.errors)));
      const view = (await (await fetch(`${api}/api/v1/faults`)).json()) as View;
      assert.deepEqual(view.rules.map((r) => [r.matched, r.fired]), [[16, 8]]);
      const metrics = await (await fetch(`${api}/metrics`)).text();
      assert.match(metrics, /^mailwire_faults_injected_total\{rule="1"\} 8$/m);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fault injection from a test suite: startMailwire and MailwireClient', () => {
  it('starts with a document, counts, refuses a bad one with the reason, and clears', async () => {
    const mailwire = await startMailwire({ faults: { rules: [{ on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' }] } });
    try {
      const transport = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
      const refused = await transport.sendMail({ from: 'a@x.test', to: 'gone@bounce.test', subject: 's', text: 't' }).then(() => null, (e: unknown) => e as { responseCode?: number });
      assert.equal(refused?.responseCode, 550);
      assert.deepEqual((await mailwire.faults()).rules.map((r) => [r.matched, r.fired]), [[1, 1]]);
      await assert.rejects(mailwire.setFaults({ rules: [{ on: 'mail', every: 0, reply: '451 4.3.0 x' }] }), (e: unknown) =>
        e instanceof MailwireApiError && e.status === 400 && e.message.endsWith('rules[0].every: must be a whole number ≥ 1'));
      assert.equal((await mailwire.faults()).rules.length, 1, 'the refused document changed nothing');
      await mailwire.clearFaults();
      await transport.sendMail({ from: 'a@x.test', to: 'gone@bounce.test', subject: 'now', text: 't' });
      assert.equal((await mailwire.waitForMessage({ subject: 'now', timeout: 5000 })).subject, 'now');
      transport.close();
    } finally {
      await mailwire.close();
    }
    await assert.rejects(startMailwire({ faults: { rules: [{ on: 'sometime', delay: '1s' }] } }), /rules\[0\]\.on: must be one of/);
  });
});
