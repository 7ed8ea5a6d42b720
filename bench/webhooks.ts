/**
 * `npm run bench:webhooks` (issue 30's first goal): 20 connections × 1 KB into the durable SQLite store, with one
 * webhook on every message to a local receiver and without, alternating in the same run (median of 3, 1 with
 * --quick); prints messages/s of each and their ratio (goal ≥ 0.9×), and checks that every stored message's event
 * reached the receiver (once the outbox has drained), counting repeats.
 *
 * The receiver is a child process (a few lines of node:http) answering 200 at once; every server and generator is a
 * child process ended by its PID, every wait bounded.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MAILWIRE, startListening, startOursWithHttp, stopRunning } from './processes.js';

const quick = process.argv.includes('--quick');
const REPS = quick ? 1 : 3;
const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
const DRAIN_DEADLINE_MS = 120_000;

const RECEIVER = `
const ids = new Map(); let requests = 0;
require('node:http').createServer((req, res) => {
  if (req.method === 'GET') { res.end(JSON.stringify({ requests, distinct: ids.size })); return; }
  req.resume();
  req.on('end', () => {
    requests++;
    if (req.headers['webhook-event'] === 'message-stored') ids.set(req.headers['webhook-id'], (ids.get(req.headers['webhook-id']) ?? 0) + 1);
    res.writeHead(200).end();
  });
}).listen(0, '127.0.0.1', function () { console.log('receiver on 127.0.0.1:' + this.address().port); });
`;

type Count = { requests: number; distinct: number };

function runBench(port: number): Promise<{ rate: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAILWIRE, 'bench', '--server', `127.0.0.1:${port}`, '--connections', '20', '--size', '1024',
      '--duration', '3s', '--warmup', '0.3s', '--json', '--timeout', '10s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        const j = JSON.parse(out) as { messagesPerSecond: number; messages?: number; sent?: number };
        resolve({ rate: j.messagesPerSecond, sent: j.messages ?? j.sent ?? Number.NaN });
      } catch {
        reject(new Error(`mailwire bench: ${out.slice(0, 500)}`));
      }
    });
  });
}

async function storedCount(httpBase: string): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const url: string = `${httpBase}/api/v1/messages?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const body = (await (await fetch(url)).json()) as { messages: unknown[]; nextCursor: string | null };
    n += body.messages.length;
    cursor = body.nextCursor;
    if (cursor === null) break;
  }
  return n;
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 === 1 ? (v[(v.length - 1) / 2] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
};

async function main(): Promise<void> {
  const receiver = await startListening(process.execPath, ['-e', RECEIVER]);
  const count = async (): Promise<Count> => (await (await fetch(`http://127.0.0.1:${receiver.port}/`)).json()) as Count;
  const without: number[] = [];
  const withHook: number[] = [];
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const hooked of [false, true]) {
        const dir = mkdtempSync(join(tmpdir(), 'mailwire-bench-webhooks-'));
        const args = ['--dialect', 'smtp', '--quiet', '--port', '0', '--no-pop3', '--no-imap', '--store', 'sqlite', '--data-dir', dir, '--max-messages', '0',
          ...(hooked ? ['--webhook', `http://127.0.0.1:${receiver.port}/`, '--webhook-secret', SECRET] : [])];
        const ours = await startOursWithHttp(args, () => rmSync(dir, { recursive: true, force: true }));
        try {
          const before = await count();
          const { rate } = await runBench(ours.port);
          (hooked ? withHook : without).push(rate);
          await ours.settle();
          if (hooked) {
            const stored = await storedCount(ours.httpBase);
            const started = performance.now();
            let now = await count();
            while (now.distinct - before.distinct < stored && performance.now() - started < DRAIN_DEADLINE_MS) {
              await new Promise((r) => setTimeout(r, 100));
              now = await count();
            }
            const told = now.distinct - before.distinct;
            const stories = now.requests - before.requests;
            console.log(`with a webhook: ${rate.toFixed(0)} msg/s; ${stored} stored, ${told} told to the receiver ` +
              `(${(performance.now() - started).toFixed(0)} ms after the run), ${stories} requests in all (session-ended included)`);
            if (told !== stored) console.log(`MISSING: ${stored - told} events not delivered within ${DRAIN_DEADLINE_MS / 1000} s`);
          } else console.log(`without:        ${rate.toFixed(0)} msg/s`);
        } finally {
          await stopRunning(ours);
        }
      }
    }
  } finally {
    await stopRunning(receiver);
  }
  const a = median(withHook);
  const b = median(without);
  console.log(`\n20 × 1 KB, durable SQLite, median of ${REPS}: with one webhook per message ${a.toFixed(0)} msg/s, without ${b.toFixed(0)} msg/s: ${(a / b).toFixed(2)}× (goal ≥ 0.9×)`);
}

await main();
