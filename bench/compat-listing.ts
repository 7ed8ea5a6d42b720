/**
 * What a Mailpit or MailHog listing costs the store (src/web/compat/walk.ts) with 10,000 messages stored: the totals
 * by walking every page of summaries (as before the store had countMessages) against one countMessages and the one
 * page shown, in the same run, for the SQLite and memory stores. Mailpit's GET /api/v1/messages (start 0, limit 50)
 * and /api/v1/info do exactly the second.
 * Run: npm run bench:compat
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../src/store/open.js';
import type { IncomingMessage, MessageStore } from '../src/store/types.js';
import { walkMessages } from '../src/web/compat/walk.js';

const TOTAL = 10_000;
const RUNS = 15;

function message(i: number): IncomingMessage {
  const raw = Buffer.from([
    `From: Sender ${i % 50} <sender${i % 50}@from.test>`, `To: user${i % 100}@to.test`, `Subject: message number ${i}`,
    `Message-ID: <${i}@bench.test>`, 'Date: Wed, 01 May 2024 10:00:00 +0000', '', `Hello, this is message ${i}. ${'lorem ipsum '.repeat(60)}`,
  ].join('\r\n'));
  return {
    envelope: { helo: 'bench.test', from: `sender${i % 50}@from.test`, to: [`user${i % 100}@to.test`] },
    connection: { clientAddress: '127.0.0.1', clientPort: 40000 + (i % 1000), serverAddress: '127.0.0.1', serverPort: 2525, dialect: 'smtp', tls: false },
    receivedAt: new Date(Date.UTC(2024, 4, 1) + i * 1000),
    raw,
  };
}

async function fill(store: MessageStore): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < TOTAL) await store.save(message(next++));
  }));
  for (let i = 0; i < 60_000 && store.health().indexBacklog > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  console.log(`A Mailpit listing's store work (start 0, limit 50) with ${TOTAL.toLocaleString('en-US')} messages, p50 of ${RUNS}:`);
  for (const kind of ['sqlite', 'memory'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'mailwire-bench-compat-'));
    const store = (await openStore(kind === 'sqlite' ? { kind, dataDir: dir, maxMessages: 0 } : { kind, maxMessages: 0 })) as MessageStore;
    try {
      await fill(store);
      const walked = await walkMessages(store, '', () => true, 0, 50);
      const counted = await walkMessages(store, '', null, 0, 50);
      if (walked.total !== TOTAL || counted.total !== TOTAL || counted.window.map((m) => m.id).join() !== walked.window.map((m) => m.id).join()) {
        throw new Error(`the two ways disagree: walked ${walked.total}, counted ${counted.total}`);
      }
      const walk = await time(() => walkMessages(store, '', () => true, 0, 50));
      const count = await time(() => walkMessages(store, '', null, 0, 50));
      console.log(`  ${kind.padEnd(7)} walk every page ${walk.toFixed(1).padStart(8)} ms   count + one page ${count.toFixed(1).padStart(7)} ms   ${(walk / count).toFixed(0)}× faster`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

await main();
