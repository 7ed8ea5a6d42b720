/** The index's parsing thread (see index-thread.ts): one message at a time, answered in order. */
import { readlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { useMemoryBlob } from './memory/blob.js';
import { indexEntry, parseForIndex } from './parse.js';
import type { IndexReply, IndexRequest } from './index-thread.js';

if (parentPort === null) throw new Error('index-worker must run as a worker thread');
useMemoryBlob(); // see memory-blob.ts
const port = parentPort;

/** This thread's id (Linux: /proc/thread-self is "<pid>/task/<tid>"), so the owner can read its CPU time. */
function threadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) ? tid : null;
  } catch {
    return null;
  }
}
port.postMessage({ type: 'thread', tid: threadId() } satisfies IndexReply);

async function answer(m: IndexRequest): Promise<void> {
  try {
    port.postMessage({ type: 'entry', n: m.n, entry: indexEntry(await parseForIndex(m.raw), m.envelope) } satisfies IndexReply);
  } catch (e) {
    port.postMessage({ type: 'failed', n: m.n, error: e instanceof Error ? e.message : String(e) } satisfies IndexReply);
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: IndexRequest) => {
  chain = chain.then(() => answer(m));
});
