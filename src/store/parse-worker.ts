/** The MIME parser thread (see parse-thread.ts): one request at a time, answered in order. */
import { parentPort } from 'node:worker_threads';
import { useMemoryBlob } from './memory/blob.js';
import { parseMessage, readAttachment } from './parse.js';
import type { ParseReply, ParseRequest } from './parse-thread.js';

if (parentPort === null) throw new Error('parse-thread-worker must run as a worker thread');
useMemoryBlob(); // see memory-blob.ts
const port = parentPort;

async function answer(m: ParseRequest): Promise<void> {
  try {
    if (m.kind === 'message') {
      port.postMessage({ n: m.n, kind: 'message', parsed: await parseMessage(m.raw) } satisfies ParseReply);
      return;
    }
    const a = await readAttachment(m.raw, m.index);
    const content = a === null ? null : new Uint8Array(a.content); // a copy of its own, to hand over without another
    port.postMessage({ n: m.n, kind: 'attachment', attachment: a && content && { info: a.info, content } } satisfies ParseReply,
      content === null ? [] : [content.buffer]);
  } catch (e) {
    port.postMessage({ n: m.n, kind: 'failed', error: e instanceof Error ? e.message : String(e) } satisfies ParseReply);
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ParseRequest) => {
  chain = chain.then(() => answer(m));
});
