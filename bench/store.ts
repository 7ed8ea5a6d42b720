/**
 * Store benchmark: durable group-commit throughput from concurrent savers, then list and search latency with
 * 100,000 messages stored. Run: npm run bench:store  (env BENCH_DIR to place the database; default a temp dir).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../src/store/open.js';
import type { IncomingMessage, MessageStore } from '../src/store/types.js';

const SAVERS = 20;
const MESSAGES = 20_000;
const TOTAL = 100_000;
const WORDS = ['invoice', 'meeting', 'report', 'lunch', 'deploy', 'review', 'holiday', 'budget', 'signup', 'password'];

function message(i: number): IncomingMessage {
  const word = WORDS[i % WORDS.length] ?? 'x';
  const head = [
    `From: Sender ${i % 500} <sender${i % 500}@from.test>`, `To: user${i % 1000}@to.test`, `Subject: ${word} number ${i}`,
    `Message-ID: <${i}@bench.test>`, 'Date: Wed, 01 May 2024 10:00:00 +0000', '', `Hello, this is about the ${word}. Unique token u${i}.`,
  ].join('\r\n');
  const pad = Math.max(0, 1024 - head.length - 2);
  const raw = Buffer.from(`${head}\r\n${'lorem ipsum dolor sit amet '.repeat(40).slice(0, pad)}`);
  return {
    envelope: { helo: 'bench.test', from: `sender${i % 500}@from.test`, to: [`user${i % 1000}@to.test`] },
    connection: { clientAddress: '127.0.0.1', clientPort: 40000 + (i % 1000), serverAddress: '127.0.0.1', serverPort: 2525, dialect: 'smtp', tls: false },
    receivedAt: new Date(Date.UTC(2024, 4, 1) + i * 1000),
    raw,
  };
}

async function saveConcurrently(store: MessageStore, from: number, count: number, savers: number): Promise<number> {
  let next = from;
  const end = from + count;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: savers }, async () => {
    while (next < end) await store.save(message(next++));
  }));
  return performance.now() - t0;
}

async function latency(label: string, runs: number, f: () => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number): string => (times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0).toFixed(2);
  console.log(`  ${label.padEnd(44)} p50 ${pct(0.5)} ms   p99 ${pct(0.99)} ms   (${runs} runs)`);
}

async function main(): Promise<void> {
  const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'mailwire-bench-'));
  const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
  try {
    console.log(`SQLite store in ${dir} (WAL, synchronous=FULL, writer + MIME parsing in a worker thread)`);
    const ms = await saveConcurrently(store, 0, MESSAGES, SAVERS);
    const s = store.stats();
    console.log(`durable saves: ${MESSAGES} × 1 KB from ${SAVERS} concurrent savers in ${(ms / 1000).toFixed(2)} s = ` +
      `${Math.round(MESSAGES / (ms / 1000))} msgs/s; ${s.transactions} transactions (${(s.saved / s.transactions).toFixed(1)} saves per fsync'd commit)`);

    const fillMs = await saveConcurrently(store, MESSAGES, TOTAL - MESSAGES, 200);
    console.log(`filled to ${TOTAL} messages (200 savers: ${Math.round((TOTAL - MESSAGES) / (fillMs / 1000))} msgs/s)`);

    console.log('read latency with 100,000 messages:');
    const first = await store.listMessages({ limit: 50 });
    await latency('list newest 50', 200, () => store.listMessages({ limit: 50 }));
    await latency('list page 2 (cursor)', 200, () => store.listMessages({ limit: 50, cursor: first.nextCursor }));
    await latency('get one message', 200, () => store.getMessage(first.items[0]?.id ?? ''));
    await latency('search "invoice" (10% match)', 100, () => store.listMessages({ query: 'invoice', limit: 50 }));
    await latency('search unique token "u54321"', 100, () => store.listMessages({ query: 'u54321', limit: 50 }));
    await latency('search from:sender42@from.test', 100, () => store.listMessages({ query: 'from:sender42@from.test', limit: 50 }));
    await latency('search to:user7@to.test (envelope+header)', 100, () => store.listMessages({ query: 'to:user7@to.test', limit: 50 }));
    await latency('search "report" subject:"number 9" is:unread', 100, () => store.listMessages({ query: 'report subject:"number 9" is:unread', limit: 50 }));
    await latency('search rare miss "zebra"', 100, () => store.listMessages({ query: 'zebra', limit: 50 }));
  } finally {
    await store.close();
    if (process.env.BENCH_DIR === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
