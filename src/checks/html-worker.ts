/** The HTML check's thread (see html-thread.ts): one check at a time, answered in order. */
import { parentPort } from 'node:worker_threads';
import { serveCalls } from '../request-channel.js';
import { checkHtml } from './html.js';
import { HTML_CHECK_CHANNEL, type HtmlCheckRequest } from './html-thread.js';

if (parentPort === null) throw new Error('html-worker must run as a worker thread');
const port = parentPort;

port.on('message', serveCalls<HtmlCheckRequest>(HTML_CHECK_CHANNEL, (m) => checkHtml(m.html, m.clients ?? undefined),
  (m, transfer) => port.postMessage(m, [...transfer]), { inOrder: true }));
