/**
 * Bounded memory for messages in flight (#25): past 256 KiB, or past the memory budget of all unfinished messages, a
 * message in progress goes to a temporary file; past the disk budget it gets 452 4.3.1; the files go when the message
 * or the connection ends, and at start. The store still receives the whole message as one Buffer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { MessageSpool } from '../../src/smtp/server/message-spool.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { startMailwire } from '../helpers/mailwire-process.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mailwire-spool-test-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const files = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.part'));
/** About `n` bytes of message text (at least n), in lines of 998 characters and CRLF (none starts with a dot). */
const text = (n: number): string => `${'x'.repeat(998)}\r\n`.repeat(Math.ceil(n / 1000));
const afterReceived = (raw: Buffer | undefined): string => (raw?.toString('latin1') ?? '').replace(/^Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*/, '');

async function lines(conn: SocketLines, n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await conn.next());
  return out;
}

describe('message spool: drafts', () => {
  it('keeps a small message in memory and spills a large one to a file, read back whole, the file then gone', async () => {
    const dir = tempDir();
    const spool = new MessageSpool({ dir, memoryBytes: 1 << 20, diskBytes: 1 << 20, spillAfterBytes: 100 });
    const small = spool.draft();
    small.write('tiny\r\n');
    assert.equal(small.spilled, false);
    const big = spool.draft();
    const parts = Array.from({ length: 50 }, (_, i) => `line ${i} ${'é'.repeat(3)}\r\n`);
    for (const p of parts) big.write(p);
    assert.equal(big.spilled, true);
    await waitFor('the spill file', () => files(dir).length === 1);
    const a = small.take('H: 1\r\n');
    const b = big.take('Received: ü\r\n');
    assert.equal(a.kind, 'memory');
    assert.equal(b.kind, 'file');
    if (a.kind !== 'memory' || b.kind !== 'file') return;
    assert.equal(a.raw.toString('latin1'), 'H: 1\r\ntiny\r\n');
    const raw = await b.raw;
    assert.deepEqual(raw, Buffer.concat([Buffer.from('Received: ü\r\n', 'utf8'), Buffer.from(parts.join(''), 'latin1')]));
    await waitFor('the spill file removed', () => files(dir).length === 0);
    assert.deepEqual([spool.memoryInUse, spool.diskInUse], [0, 0]);
  });

  it('spills earlier once unfinished messages hold the memory budget together', () => {
    const spool = new MessageSpool({ dir: tempDir(), memoryBytes: 1000, diskBytes: 1 << 20, spillAfterBytes: 1 << 20 });
    const first = spool.draft();
    const second = spool.draft();
    first.write('a'.repeat(600));
    assert.equal(first.spilled, false);
    second.write('b'.repeat(600));
    assert.equal(second.spilled, true, 'the draft that crosses the budget goes to a file');
    first.discard();
    second.discard();
  });

  it('removes at start the files of a server that is gone, and of an earlier process with its pid, never a live one\'s', () => {
    const dir = tempDir();
    const live = new MessageSpool({ dir, memoryBytes: 0, diskBytes: 1 << 20, spillAfterBytes: 0 });
    const draft = live.draft();
    draft.write('x');
    const dead = '2147483646.abc-00ff.part'; // pid beyond pid_max: never a live process
    const earlier = `${process.pid}.zz-00ff.part`; // this pid, another start
    const other = `${process.ppid}.abc-00ff.part`; // the test runner: alive
    for (const f of [dead, earlier, other]) writeFileSync(join(dir, f), 'left');
    const again = new MessageSpool({ dir, memoryBytes: 1 << 20, diskBytes: 1 << 20 });
    assert.equal(again.leftoversRemoved, 2);
    const left = files(dir);
    assert.ok(left.includes(other) && !left.includes(dead) && !left.includes(earlier), left.join(' '));
    assert.equal(left.length, 2, 'the live spool\'s own file stays');
    draft.discard();
  });
});

describe('message spool: over real sockets', () => {
  it('stores a 1 MiB message byte for byte through its temporary file, and removes the file', async () => {
    const dir = tempDir();
    const sink = createCaptureSink();
    const { server } = await startTestServer({ dialect: smtpDialect, sink, spoolDir: dir });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      const body = `Subject: big\r\n\r\n${text(1 << 20)}`;
      conn.write(`HELO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n${body}.\r\n`);
      assert.deepEqual(await lines(conn, 5), [
        '250 127.0.0.1 Hello 127.0.0.1', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 OK: queued as 1',
      ]);
      assert.equal(afterReceived(sink.messagesFrom(conn.localPort)[0]?.raw), body);
      await waitFor('the spill file removed', () => files(dir).length === 0, { seen: () => files(dir).join(' ') });
      conn.write('QUIT\r\n');
      assert.equal(await conn.next(), '221 2.0.0 127.0.0.1 closing connection');
    } finally {
      await server.close(2000);
    }
  });

  it('answers 452 4.3.1 past the disk budget (--spool-disk), keeps nothing, and the session goes on', async () => {
    const dir = tempDir();
    const sink = createCaptureSink();
    const { server } = await startTestServer({ dialect: smtpDialect, sink, spoolDir: dir, limits: { spoolDiskBytes: 512 * 1024 } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write(`EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n${text(1 << 20)}.\r\n`);
      assert.deepEqual((await lines(conn, 11)).slice(7), [
        '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>', '452 4.3.1 Insufficient system storage; try again later',
      ]);
      // BDAT too, then a small message that fits.
      const chunk = text(700 * 1024);
      conn.write(`MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT ${chunk.length} LAST\r\n${chunk}MAIL FROM:<c@x.test>\r\nRCPT TO:<d@y.test>\r\nDATA\r\nsmall\r\n.\r\n`);
      assert.deepEqual(await lines(conn, 7), [
        '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '452 4.3.1 Insufficient system storage; try again later',
        '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 OK: queued as 1',
      ]);
      assert.deepEqual(sink.messagesFrom(conn.localPort).map((m) => afterReceived(m.raw)), ['small\r\n']);
      await waitFor('no spill file left', () => files(dir).length === 0, { seen: () => files(dir).join(' ') });
    } finally {
      await server.close(2000);
    }
  });

  it('removes the file of a message in progress when its connection ends', async () => {
    const dir = tempDir();
    const { server } = await startTestServer({ dialect: smtpDialect, spoolDir: dir });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write(`HELO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n${text(1 << 20)}`);
      await lines(conn, 4);
      const file = await waitFor('the spill file', () => files(dir)[0]);
      await waitFor('1 MiB in it', () => statSync(join(dir, file)).size >= (1 << 20) - 2000);
      conn.socket.destroy();
      await waitFor('the spill file removed', () => files(dir).length === 0, { seen: () => files(dir).join(' ') });
    } finally {
      await server.close(2000);
    }
  });
});

/** The child's resident set (VmRSS, /proc/PID/status) in bytes. */
const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;

/** The receive queues (bytes not yet read by the process) of the established TCP connections to local `port`. */
function receiveQueues(port: number): number[] {
  const out: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 5 || f[3] !== '01' || parseInt(f[1]?.split(':')[1] ?? '', 16) !== port) continue;
      out.push(parseInt(f[4]?.split(':')[1] ?? '', 16));
    }
  }
  return out;
}

describe('message spool: memory of a server with 20 unfinished 5 MB messages', () => {
  it('grows by less than 100 MiB, and the files go when the connections close', async (t) => {
    const dataDir = tempDir();
    const spoolDir = join(dataDir, 'tmp');
    const server = await startMailwire(['--dialect', 'smtp', '--port', '0', '--no-http', '--quiet', '--store', 'sqlite', '--data-dir', dataDir]);
    const sockets: Socket[] = [];
    try {
      const pid = server.child.pid ?? 0;
      const before = rssOf(pid);
      const body = text(5_000_000);
      for (let i = 0; i < 20; i++) {
        const socket = connect({ host: '127.0.0.1', port: server.smtpPort });
        socket.on('error', () => {});
        sockets.push(socket);
        socket.write(`EHLO c${i}.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n`);
        socket.write(body); // and never the end of data
      }
      // Wait for the thing itself: every byte sent is out of the clients' buffers and read by the server (its
      // sockets' receive queues empty, /proc/net/tcp), whatever the server does with them.
      await waitFor('every byte read by the server', () => sockets.every((s) => s.writableLength === 0) && receiveQueues(server.smtpPort).length === 20 && receiveQueues(server.smtpPort).every((q) => q === 0), {
        deadlineMs: 60_000, seen: () => receiveQueues(server.smtpPort).join(' '),
      });
      const grown = rssOf(pid) - before;
      t.diagnostic(`RSS ${(before / 2 ** 20).toFixed(1)} MiB before, grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(grown < 100 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB (from ${(before / 2 ** 20).toFixed(1)} MiB)`);
      const onDisk = (): number => files(spoolDir).reduce((n, f) => n + (statSync(join(spoolDir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
      await waitFor('20 messages of 5 MB in temporary files', () => files(spoolDir).length === 20 && onDisk() >= 20 * (5_000_000 - 65_536), {
        seen: () => `${files(spoolDir).length} files, ${onDisk()} bytes`,
      });
      for (const s of sockets) s.destroy();
      await waitFor('the files removed', () => files(spoolDir).length === 0, { deadlineMs: 20_000, seen: () => files(spoolDir).join(' ') });
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });
});
