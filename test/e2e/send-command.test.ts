import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { selfSignedCert } from '../helpers/cert.js';
import { startTestServer } from '../helpers/socket-driver.js';

type Run = { stdout: string; stderr: string; code: number | null };

/** Runs `mailwire send …` as a child process (asynchronously: the servers under test live in this process). */
function send(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'send', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, MAILWIRE_AUTH: '', MAILWIRE_SEND_AUTH: '', MAILWIRE_SEND_SERVER: '', ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ stdout, stderr, code });
  }));
}

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwire-send-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ADDR = ['--from', 'alice@xyz.com', '--to', 'bob@abc.org'];

describe('mailwire send against our own server (simplified dialect)', () => {
  it('standard mode falls back to HELO; the stored bytes are the composed bytes; transcript, RTTs and timings shown', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const dump = join(dir, 'own.eml');
      const r = await send(['--server', `127.0.0.1:${server.port}`, ...ADDR, '--subject', 'Greetings', '--body', 'Hello Bob,\n.a dot line\n', '--ehlo', 'client.test', '--dump-message', dump]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(sink.messages.length, 1);
      assert.deepEqual(sink.messages[0]?.envelope, { helo: 'client.test', from: 'alice@xyz.com', to: ['bob@abc.org'] });
      const composed = await readFile(dump);
      assert.ok(sink.messages[0]?.raw.equals(composed));
      assert.match(composed.toString('latin1'), /\r\n\r\nHello Bob,\r\n\.a dot line\r\n$/);
      const lines = r.stdout.split('\n');
      for (const want of [
        '-> EHLO client.test', '<- 503 5.5.2 Send hello first', '-> HELO client.test', '<- 250 127.0.0.1 Hello 127.0.0.1',
        '-> MAIL FROM:<alice@xyz.com>', '<- 250 2.1.0 Sender OK', '-> RCPT TO:<bob@abc.org>', '<- 250 2.1.5 Recipient OK', '-> DATA',
        '<- 354 Start mail input; end with <CRLF>.<CRLF>', '<- 250 Message received and to be delivered', '-> QUIT', '<- 221 127.0.0.1 closing connection',
      ]) {
        const line = lines.find((l) => l === want || l.startsWith(`${want}  (`));
        assert.ok(line !== undefined, `missing ${want}\n${r.stdout}`);
        if (want.startsWith('<-')) assert.match(line, /  \(\d+\.\d{2} ms\)$/);
      }
      const timings = lines.slice(lines.indexOf('Timings (ms, monotonic clock):') + 1).filter((l) => l !== '').map((l) => l.trim().split(/\s+/)[0]);
      assert.deepEqual(timings, ['connect', 'greeting', 'EHLO', 'HELO', 'MAIL', 'RCPT', 'DATA', 'message', 'QUIT', 'total']);
    } finally {
      await server.close(2000);
    }
  });

  it('--simplified speaks the dialect as the interactive client does (HELO <sender domain>), and --json holds every phase', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const r = await send(['--server', `127.0.0.1:${server.port}`, ...ADDR, '--simplified', '--body', 'hi', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { ok: boolean; mode: string; timings: { phase: string; ms: number }[]; transcript: { dir: string; text?: string }[]; summary: { runs: number; phases: { phase: string; count: number }[] }; message: { size: number } };
      assert.equal(doc.ok, true);
      assert.equal(doc.mode, 'simplified');
      assert.deepEqual(doc.timings.map((t) => t.phase), ['connect', 'greeting', 'HELO', 'MAIL', 'RCPT', 'DATA', 'message', 'QUIT']);
      for (const t of doc.timings) assert.equal(typeof t.ms, 'number');
      assert.deepEqual(doc.transcript.filter((e) => e.dir === '->').map((e) => (e.text?.startsWith('[message: ') ? '[message]' : e.text)), ['HELO xyz.com', 'MAIL FROM: <alice@xyz.com>', 'RCPT TO: <bob@abc.org>', 'DATA', '[message]', 'QUIT']);
      assert.deepEqual(doc.summary.phases.map((p) => p.phase), [...doc.timings.map((t) => t.phase), 'total']);
      assert.deepEqual(sink.messages[0]?.envelope, { helo: 'xyz.com', from: 'alice@xyz.com', to: ['bob@abc.org'] });
      assert.equal(sink.messages[0]?.raw.length, doc.message.size);
    } finally {
      await server.close(2000);
    }
  });

  it('--repeat 6 --concurrency 3 sends six sessions and reports min/median/p90/p99/max per phase', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const r = await send(['--server', `127.0.0.1:${server.port}`, ...ADDR, '--body', 'x', '--repeat', '6', '--concurrency', '3', '--quiet']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(sink.messages.length, 6);
      assert.match(r.stdout, /^  phase +n +min +median +p90 +p99 +max$/m);
      assert.match(r.stdout, /^  total +6 +(\d+\.\d{2} +){4}\d+\.\d{2}$/m);
      assert.match(r.stdout, /^6\/6 accepted in /m);
      assert.ok(!r.stdout.includes('->'), 'quiet shows no transcript');
    } finally {
      await server.close(2000);
    }
  });
});

describe('mailwire send: usage and connection exit codes', () => {
  it('refuses CR or LF in a header value or an address before connecting (exit 2)', async () => {
    let connections = 0;
    const probe = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    try {
      for (const bad of [
        ['--header', 'X-Test: a\r\nBcc: evil@x.test'],
        ['--subject', 'hi\nBcc: evil@x.test'],
        ['--to', 'carol@x.test\r\nRCPT TO:<evil@x.test>'],
      ]) {
        const r = await send(['--server', `127.0.0.1:${port}`, ...ADDR, '--body', 'x', ...bad]);
        assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /line break|not a valid/);
      }
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    }
  });

  it('usage errors exit 2: no --from, an unknown flag, a bad --server, two recipients with --simplified', async () => {
    for (const args of [['--to', 'b@y.test'], [...ADDR, '--bogus'], [...ADDR, '--server', 'x:99999'], [...ADDR, '--to', 'c@y.test', '--simplified']]) {
      const r = await send([...args, '--body', 'x']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('a closed port exits 3 with the error on standard error in --json mode, standard output holding only the JSON', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await send(['--server', `127.0.0.1:${port}`, ...ADDR, '--body', 'x', '--json']);
    assert.equal(r.code, 3);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { kind: string; code: string } };
    assert.deepEqual([doc.ok, doc.error.kind, doc.error.code], [false, 'connection', 'ERR_CONNECT']);
    assert.match(r.stderr, /ECONNREFUSED/);
  });
});

/** A nodemailer smtp-server sink; `received` holds each message's exact bytes and envelope. */
async function startSink(options: SMTPServerOptions = {}) {
  const received: { from: string; to: string[]; raw: Buffer; user: unknown; secure: boolean }[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        received.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks), user: session.user, secure: session.secure });
        callback();
      });
    },
    ...options,
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The parts of a MIME message, depth first: headers (unfolded, lower-case names) and body. */
function mimeParts(raw: string): { headers: Map<string, string>; body: string }[] {
  const split = raw.indexOf('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const field of raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = field.indexOf(':');
    headers.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
  }
  const body = raw.slice(split + 4);
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  if (boundary === undefined) return [{ headers, body }];
  const pieces = body.split(`--${boundary}`).slice(1, -1).map((p) => p.replace(/^\r\n/, '').replace(/\r\n$/, ''));
  return [{ headers, body }, ...pieces.flatMap(mimeParts)];
}

describe('mailwire send against nodemailer smtp-server', () => {
  it('sends text, HTML, two attachments, Cc, Bcc and extra headers: the bytes received are the bytes composed, the attachments decode to the files', async () => {
    const sink = await startSink({ size: 1_000_000 });
    try {
      const bin = randomBytes(3000);
      await writeFile(join(dir, 'data.bin'), bin);
      await writeFile(join(dir, 'notes.txt'), 'first line\nsecond line\n');
      await writeFile(join(dir, 'body.html'), '<p>Hello <b>Bob</b></p>');
      const dump = join(dir, 'sink.eml');
      const r = await send([
        '--server', `127.0.0.1:${sink.port}`, ...ADDR, '--to', 'dave@abc.org', '--cc', 'carol@abc.org', '--bcc', 'eve@abc.org',
        '--subject', 'Reports — ünïcode', '--header', 'X-Mailwire-Test: yes', '--header', 'Reply-To: alice@xyz.com',
        '--html-file', join(dir, 'body.html'), '--attach', join(dir, 'data.bin'), '--attach', join(dir, 'notes.txt'), '--dump-message', dump,
      ], { input: 'text from stdin\n' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(sink.received.length, 1);
      const got = sink.received[0];
      assert.deepEqual([got?.from, got?.to], ['alice@xyz.com', ['bob@abc.org', 'dave@abc.org', 'carol@abc.org', 'eve@abc.org']]);
      assert.ok(got?.raw.equals(await readFile(dump)), 'received bytes differ from the composed ones');
      const parts = mimeParts(got?.raw.toString('latin1') ?? '');
      const top = parts[0]?.headers;
      assert.equal(top?.get('x-mailwire-test'), 'yes');
      assert.equal(top?.get('cc'), 'carol@abc.org');
      assert.equal(top?.has('bcc'), false);
      assert.match(top?.get('subject') ?? '', /^=\?UTF-8\?/);
      const attachment = (name: string) => parts.find((p) => (p.headers.get('content-disposition') ?? '').includes(`filename=${name}`));
      assert.ok(Buffer.from(attachment('data.bin')?.body ?? '', 'base64').equals(bin));
      const notes = attachment('notes.txt');
      const notesBody = notes?.headers.get('content-transfer-encoding') === 'base64' ? Buffer.from(notes.body, 'base64').toString() : notes?.body;
      assert.equal(notesBody?.replace(/\r\n/g, '\n'), 'first line\nsecond line\n');
      assert.ok(parts.some((p) => p.headers.get('content-type')?.startsWith('text/plain') && p.body.includes('text from stdin')));
      assert.ok(parts.some((p) => p.headers.get('content-type')?.startsWith('text/html')));
      // PIPELINING offered: MAIL, the four RCPTs and DATA go out before their replies are read.
      assert.match(r.stdout, /^-> MAIL FROM:<alice@xyz\.com> SIZE=\d+\n(-> RCPT TO:<[a-z]+@abc\.org>\n){4}-> DATA\n<- 250 /m);
    } finally {
      await sink.close();
    }
  });

  it('STARTTLS with a self-signed certificate: exit 4 without --tls-insecure; with it, AUTH from MAILWIRE_SEND_AUTH over TLS, never echoed', async () => {
    const pems = await selfSignedCert();
    const sink = await startSink({
      key: pems.key, cert: pems.cert, authOptional: false, authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        if (auth.username === 'alice' && auth.password === 'wonder land') callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
    });
    try {
      const common = ['--server', `127.0.0.1:${sink.port}`, ...ADDR, '--body', 'secret stuff', '--starttls'];
      const refused = await send(common, { env: { MAILWIRE_SEND_AUTH: 'alice:wonder land' } });
      assert.equal(refused.code, 4, refused.stdout + refused.stderr);
      assert.match(refused.stdout, /SmtpTlsError: .*self[- ]signed/i);

      const ok = await send([...common, '--tls-insecure'], { env: { MAILWIRE_SEND_AUTH: 'alice:wonder land' } });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^=== TLS TLSv1\.[23] /m);
      assert.match(ok.stdout, /^-> AUTH PLAIN \*{8}$/m);
      assert.ok(!ok.stdout.includes('wonder') && !ok.stdout.includes(Buffer.from('\0alice\0wonder land').toString('base64')));
      assert.deepEqual(sink.received.map((m) => [m.user, m.secure]), [['alice', true]]);

      const login = await send([...common, '--tls-insecure', '--auth', 'alice:wonder land', '--auth-mech', 'login', '--json']);
      assert.equal(login.code, 0, login.stderr);
      assert.ok(!login.stdout.includes('wonder'));
      const phases = (JSON.parse(login.stdout) as { timings: { phase: string }[] }).timings.map((t) => t.phase);
      assert.deepEqual(phases.slice(0, 8), ['connect', 'greeting', 'EHLO', 'STARTTLS', 'tls', 'EHLO (TLS)', 'AUTH', 'AUTH 2']);

      const wrong = await send([...common, '--tls-insecure', '--auth', 'alice:nope']);
      assert.equal(wrong.code, 5, wrong.stdout + wrong.stderr);
    } finally {
      await sink.close();
    }
  });

  const rejections: [string, number, SMTPServerOptions][] = [
    ['MAIL', 6, { onMailFrom: (_a, _s, cb) => cb(Object.assign(new Error('sender refused'), { responseCode: 550 })) }],
    ['RCPT', 7, { onRcptTo: (_a, _s, cb) => cb(Object.assign(new Error('no such user'), { responseCode: 550 })) }],
    ['DATA', 8, {
      onData: (stream, _s, cb) => {
        stream.resume();
        stream.on('end', () => cb(Object.assign(new Error('content refused'), { responseCode: 554 })));
      },
    }],
  ];
  for (const [stage, code, options] of rejections) {
    it(`a rejection at ${stage} exits ${code}`, async () => {
      const sink = await startSink(options);
      try {
        const r = await send(['--server', `127.0.0.1:${sink.port}`, ...ADDR, '--body', 'x', '--json']);
        assert.equal(r.code, code, r.stdout + r.stderr);
        const doc = JSON.parse(r.stdout) as { error: { name: string; reply: { code: number } } };
        assert.equal(doc.error.name, 'SmtpReplyError');
        assert.ok(doc.error.reply.code >= 500);
      } finally {
        await sink.close();
      }
    });
  }
});

describe("mailwire send against Python's smtpd", () => {
  it('delivers to several recipients, repeatedly, and the message received is the one composed', async () => {
    const out = await mkdtemp(join(dir, 'smtpd-'));
    const py = spawn('python3', [join('test', 'fixtures', 'smtpd_sink.py'), out], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let first = '';
        py.stdout.setEncoding('utf8').on('data', (d: string) => {
          first += d;
          if (first.includes('\n')) resolve(Number(first.trim()));
        });
        py.on('exit', (c) => reject(new Error(`smtpd exited with ${c}`)));
        setTimeout(() => reject(new Error('smtpd did not start within 10 s')), 10_000).unref();
      });
      const dump = join(dir, 'py.eml');
      const r = await send(['--server', `127.0.0.1:${port}`, ...ADDR, '--to', 'dave@abc.org', '--body', 'Hi\n..two dots\n.\n', '--repeat', '3', '--concurrency', '2', '--json', '--dump-message', dump]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const doc = JSON.parse(r.stdout) as { summary: { runs: number; ok: number; phases: { phase: string; count: number }[] } };
      assert.deepEqual([doc.summary.runs, doc.summary.ok], [3, 3]);
      assert.deepEqual(doc.summary.phases.find((p) => p.phase === 'EHLO')?.count, 3);
      const files = (await readdir(out)).sort();
      assert.deepEqual(files, ['0000.eml', '0000.json', '0001.eml', '0001.json', '0002.eml', '0002.json']);
      // smtpd hands the message over with LF line ends and without the last one (its process_message contract).
      const composed = (await readFile(dump, 'latin1')).replace(/\r\n/g, '\n').replace(/\n$/, '');
      for (const n of ['0000', '0001', '0002']) {
        assert.equal(await readFile(join(out, `${n}.eml`), 'latin1'), composed);
        const env = JSON.parse(await readFile(join(out, `${n}.json`), 'utf8')) as { from: string; to: string[]; options: string[] };
        assert.deepEqual([env.from, env.to], ['alice@xyz.com', ['bob@abc.org', 'dave@abc.org']]);
        assert.ok(env.options.some((o) => /^SIZE=\d+$/.test(o)), JSON.stringify(env.options));
      }
      assert.match(composed, /\n\nHi\n\.\.two dots\n\.$/);
    } finally {
      py.kill();
    }
  });
});
