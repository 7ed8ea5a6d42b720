/**
 * The spam check against a real SpamAssassin spamd and a real rspamd (Debian's packages, installed by npm test's
 * set-up), each started on a free loopback port for this file and ended by its PID. GTUBE is spam on both; a plain
 * mail is not.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { parseRspamdAnswer, parseSpamdReply, rspamdChecker, spamdChecker } from '../../src/checks/spam.js';
import { waitFor } from '../helpers/wait.js';

const GTUBE = Buffer.from('Subject: test\r\nFrom: a@x.test\r\nTo: b@y.test\r\nDate: Mon, 7 Dec 2026 18:00:00 +0000\r\nMessage-ID: <g@x.test>\r\n\r\n' +
  'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n');
const PLAIN = Buffer.from('Subject: lunch tomorrow\r\nFrom: Alice <alice@x.test>\r\nTo: bob@y.test\r\nDate: Mon, 7 Dec 2026 18:00:00 +0000\r\n' +
  'Message-ID: <p@x.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nShall we meet at noon by the fountain?\r\n');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listening(port: number, child: ChildProcess, log: () => string, deadlineMs: number): Promise<void> {
  let ok = false;
  await waitFor(`a listener on 127.0.0.1:${port}`, () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${log()}`);
    const s = connect({ host: '127.0.0.1', port }, () => { ok = true; s.destroy(); });
    s.on('error', () => s.destroy());
    return ok;
  }, { deadlineMs, everyMs: 100, seen: log });
}

const stop = async (child: ChildProcess | undefined): Promise<void> => {
  if (child === undefined || child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise<void>((r) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 5_000);
    child.once('exit', () => { clearTimeout(t); r(); });
  });
};

describe('spam check: SpamAssassin spamd', () => {
  let child: ChildProcess | undefined;
  let port = 0;
  let log = '';
  before(async () => {
    port = await freePort();
    child = spawn('spamd', ['-L', '-x', '-u', 'nobody', `--listen=127.0.0.1:${port}`, '--syslog=stderr', '--max-children=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await listening(port, child, () => log.slice(-500), 60_000);
  });
  after(() => stop(child));

  it('scores GTUBE as spam, with the rule that fired', async () => {
    const r = await spamdChecker(`127.0.0.1:${port}`).check(GTUBE);
    assert.equal(r.checker, 'spamassassin');
    assert.equal(r.spam, true);
    assert.equal(r.threshold, 5);
    assert.ok(r.score >= 1000, `score ${r.score}`);
    const gtube = r.rules.find((x) => x.name === 'GTUBE');
    assert.deepEqual(gtube && { score: gtube.score, description: gtube.description }, { score: 1000, description: 'BODY: Generic Test for Unsolicited Bulk Email' });
  });

  it('scores a plain mail as not spam', async () => {
    const r = await spamdChecker(`127.0.0.1:${port}`).check(PLAIN);
    assert.equal(r.spam, false);
    assert.ok(r.score < 5, `score ${r.score}`);
  });
});

describe('spam check: rspamd', () => {
  let child: ChildProcess | undefined;
  let port = 0;
  let dir = '';
  let log = '';
  before(async () => {
    port = await freePort();
    const controller = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'mailwire-rspamd-'));
    for (const sub of ['conf', 'db', 'run']) mkdirSync(join(dir, sub));
    mkdirSync(join(dir, 'conf', 'override.d'));
    writeFileSync(join(dir, 'conf', 'override.d', 'worker-normal.inc'), `bind_socket = "127.0.0.1:${port}";\n`);
    writeFileSync(join(dir, 'conf', 'override.d', 'worker-controller.inc'), `bind_socket = "127.0.0.1:${controller}";\n`);
    writeFileSync(join(dir, 'conf', 'override.d', 'worker-proxy.inc'), 'enabled = false;\n');
    writeFileSync(join(dir, 'conf', 'override.d', 'logging.inc'), 'type = "console";\nlevel = "error";\n');
    const uid = Number(execFileSync('id', ['-u', '_rspamd'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', '_rspamd'], { encoding: 'utf8' }).trim());
    for (const sub of ['db', 'run']) chownSync(join(dir, sub), uid, gid);
    child = spawn('rspamd', ['-f', '-u', '_rspamd', '-g', '_rspamd', '--var', `LOCAL_CONFDIR=${join(dir, 'conf')}`,
      '--var', `DBDIR=${join(dir, 'db')}`, '--var', `RUNDIR=${join(dir, 'run')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await listening(port, child, () => log.slice(-500), 120_000);
  });
  after(async () => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('scores GTUBE as spam (its action reject), with its rules', async () => {
    const r = await rspamdChecker(`http://127.0.0.1:${port}`).check(GTUBE);
    assert.equal(r.checker, 'rspamd');
    assert.equal(r.action, 'reject');
    assert.equal(r.spam, true);
    assert.ok(r.rules.some((x) => x.name === 'GTUBE'), JSON.stringify(r.rules.map((x) => x.name)));
  });

  it('scores a plain mail as not spam', async () => {
    const r = await rspamdChecker(`http://127.0.0.1:${port}`).check(PLAIN);
    assert.equal(r.spam, false, JSON.stringify(r));
    assert.ok(r.action === 'no action' || r.action === 'greylist');
  });
});

describe('spam replies parsed', () => {
  it('reads spamd REPORT with wrapped descriptions', () => {
    const reply = 'SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\nSpam: True ; 1003.1 / 5.0\r\n\r\n' +
      'Content analysis details:   (1003.1 points, 5.0 required)\n\n pts rule name              description\n' +
      '---- ---------------------- --------------------------------------------------\n1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email\n' +
      ' 3.1 MISSING_HEADERS        Missing To: header\n                            and more words\n';
    assert.deepEqual(parseSpamdReply(reply), {
      checker: 'spamassassin', score: 1003.1, threshold: 5, spam: true, action: null, rules: [
        { score: 1000, name: 'GTUBE', description: 'BODY: Generic Test for Unsolicited Bulk Email' },
        { score: 3.1, name: 'MISSING_HEADERS', description: 'Missing To: header and more words' },
      ],
    });
  });
  it('takes rspamd\'s add header score as the threshold, not required_score (reject)', () => {
    const r = parseRspamdAnswer({ score: 7, required_score: 15, action: 'add header', thresholds: { reject: 15, 'add header': 6, greylist: 4 }, symbols: {} });
    assert.deepEqual({ threshold: r.threshold, spam: r.spam }, { threshold: 6, spam: true });
    assert.equal(parseRspamdAnswer({ score: 4.5, action: 'greylist' }).spam, false);
  });
});
