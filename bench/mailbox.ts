/**
 * `npm run bench:mailbox` (issue 28): opening a large inbox with IMAP. One inbox of N messages of about 10 KB (default
 * 10,000; BENCH_MESSAGES) in each store (SQLite in a temp directory, memory), then:
 *  - the inbox's UIDs read by walking nextMatch one message at a time (what SELECT did before matchesAfter), and by
 *    MessageStore.matchesAfter in pages of 10,000 (what it does now): the ratio is the speed-up;
 *  - SELECT INBOX over the real IMAP server on a free port, from the command to its tagged OK (p50 of 5).
 * Prints a Markdown table; everything on loopback, every loop bounded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../src/store/open.js';
import type { IncomingMessage, MessageStore } from '../src/store/index.js';
import { encodeCursor } from '../src/store/cursor.js';
import { inboxQuery, messagesAfter } from '../src/mailbox/inbox-view.js';
import { startImapServer } from '../src/imap/server/server.js';
import { createMailLogin } from '../src/mailbox/login.js';

const N = Number(process.env['BENCH_MESSAGES'] ?? 10_000);
const INBOX = 'qa@bench.test';

function message(i: number): IncomingMessage {
  const head = [`From: Sender <s${i % 50}@from.test>`, `To: ${INBOX}`, `Subject: message ${i}`, `Message-ID: <${i}@bench.test>`, '', ''].join('\r\n');
  const raw = Buffer.from(`${head}${`line ${i} lorem ipsum dolor sit amet consectetur\r\n`.repeat(200)}`);
  return {
    envelope: { helo: 'bench.test', from: `s${i % 50}@from.test`, to: [INBOX] },
    connection: { clientAddress: '127.0.0.1', clientPort: 40000, serverAddress: '127.0.0.1', serverPort: 2525, dialect: 'smtp', tls: false },
    receivedAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    raw,
  };
}

async function fill(store: MessageStore): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < N) await store.save(message(next++));
  }));
  for (let i = 0; i < 60_000 && store.health().indexBacklog > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

async function walkNextMatch(store: MessageStore): Promise<number> {
  const query = inboxQuery(INBOX);
  let cursor = encodeCursor('m', 0);
  let n = 0;
  for (let i = 0; i < N + 1; i++) {
    const next = await store.nextMatch(query, cursor);
    if (next === null) break;
    cursor = next.cursor;
    n++;
  }
  return n;
}

/** SELECT INBOX on a logged-in connection: ms from the command to its tagged OK. */
async function selectMs(port: number, rounds: number): Promise<number[]> {
  const s = connect(port, '127.0.0.1');
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  const until = async (text: string): Promise<void> => {
    for (let i = 0; i < 600_000 && !got.includes(text); i++) await new Promise((r) => setTimeout(r, 1));
    if (!got.includes(text)) throw new Error(`no ${JSON.stringify(text)} in ${got.slice(-200)}`);
  };
  s.write(`a LOGIN ${INBOX} x\r\n`);
  await until('a OK');
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    s.write(`s${r} SELECT INBOX\r\n`);
    await until(`s${r} OK`);
    out.push(performance.now() - t0);
    if (!got.includes(`* ${N} EXISTS`)) throw new Error('SELECT did not see every message');
  }
  s.destroy();
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const kind of ['sqlite', 'memory'] as const) {
    const dir = kind === 'sqlite' ? mkdtempSync(join(tmpdir(), 'mailwire-bench-mailbox-')) : null;
    const store = await openStore(kind === 'sqlite' ? { kind, dataDir: dir ?? '', maxMessages: 0 } : { kind, maxMessages: 0 });
    try {
      await fill(store);
      let t0 = performance.now();
      const walked = await walkNextMatch(store);
      const walkMs = performance.now() - t0;
      t0 = performance.now();
      const bulk = await messagesAfter(store, { kind: 'inbox', address: INBOX }, 0);
      const bulkMs = performance.now() - t0;
      if (walked !== N || bulk.length !== N) throw new Error(`expected ${N} messages, walked ${walked}, bulk ${bulk.length}`);
      const imap = await startImapServer({ host: '127.0.0.1', port: 0, store, events: null, login: createMailLogin({ credentials: [] }) });
      const sel = await selectMs(imap.port, 5);
      await imap.close();
      rows.push(`| ${kind} | ${N.toLocaleString('en-US')} | ${Math.round(walkMs)} ms | ${Math.round(bulkMs)} ms | ${(walkMs / bulkMs).toFixed(1)}× | ${Math.round(median(sel))} ms |`);
    } finally {
      await store.close();
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log('| store | messages in the inbox | UIDs by nextMatch, one at a time (before) | by matchesAfter (now) | speed-up | SELECT INBOX over IMAP, p50 of 5 (now) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
