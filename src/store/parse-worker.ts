/** The MIME parser thread (see parse-thread.ts): one request at a time, answered in order. */
import { parentPort } from 'node:worker_threads';
import { serveCalls } from '../request-channel.js';
import { useMemoryBlob } from './memory/blob.js';
import { parseMessage, readAttachment } from './parse.js';
import { PARSE_CHANNEL, type ParseAnswers, type ParseRequest } from './parse-thread.js';

if (parentPort === null) throw new Error('parse-thread-worker must run as a worker thread');
useMemoryBlob(); // see memory-blob.ts
const port = parentPort;

async function answer(m: ParseRequest): Promise<ParseAnswers[keyof ParseAnswers]> {
  if (m.kind === 'message') return parseMessage(m.raw);
  const a = await readAttachment(m.raw, m.index);
  return a === null ? null : { info: a.info, content: new Uint8Array(a.content) }; // a copy of its own, to hand over without another
}

const transferOf = (m: ParseRequest, value: unknown): ArrayBuffer[] =>
  m.kind === 'attachment' && value !== null ? [(value as NonNullable<ParseAnswers['attachment']>).content.buffer as ArrayBuffer] : [];

port.on('message', serveCalls<ParseRequest>(PARSE_CHANNEL, answer, (m, transfer) => port.postMessage(m, [...transfer]), { inOrder: true, transfer: transferOf }));
