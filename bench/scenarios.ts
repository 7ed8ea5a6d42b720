/**
 * The scenarios of `npm run bench` that are more than one server under one workload (issue 11), written against the
 * public HTTP API only (SSE `message-stored`, list/search, `wait`), so they measure whatever the store does inside:
 *  - readers: SMTP throughput with 200 `wait` long-polls and a searching client running, against the same load without
 *    them, alternated run by run on one server;
 *  - index lag: a burst of messages from many connections, each message's time from its 250 to its `message-stored`
 *    event (which fires when it is searchable), and from the last 250 until every message is.
 */
import { performance } from 'node:perf_hooks';
import { PreparedMessage, SmtpClient } from '../src/smtp/client/index.js';
import { benchMessage } from '../src/loadgen/message.js';

export type HttpServer = Readonly<{ smtpPort: number; httpBase: string }>;

const pct = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number);

// ---- readers ---------------------------------------------------------------------------------------------------

export type Readers = Readonly<{
  /** Resolves once the first search has been answered (the readers are running). */
  ready: Promise<void>;
  /** Stops every reader and resolves once they are all done. */
  stop: () => Promise<ReadersReport>;
}>;
export type ReadersReport = Readonly<{ waits: number; waitErrors: number; searches: number; searchErrors: number; searchP50Ms: number; searchP99Ms: number }>;

/**
 * `waiters` long-polls on `GET /api/v1/messages/wait` for mail that never comes (each re-asks when its wait times out)
 * and one client searching `GET /api/v1/messages?query=…` back to back, until stop().
 */
export function startReaders(base: string, waiters = 200, timeoutS = 30): Readers {
  const abort = new AbortController();
  let waits = 0;
  let waitErrors = 0;
  let searchErrors = 0;
  const searchMs: number[] = [];
  let answered: () => void = () => {};
  const ready = new Promise<void>((resolve) => (answered = resolve));
  const waiter = async (i: number): Promise<void> => {
    const url = `${base}/api/v1/messages/wait?query=${encodeURIComponent(`to:nobody-${i}@readers.invalid`)}&timeout=${timeoutS}`;
    for (let n = 0; n < 10_000 && !abort.signal.aborted; n++) {
      try {
        const r = await fetch(url, { signal: abort.signal });
        await r.arrayBuffer();
        if (r.status === 408) waits++;
        else waitErrors++;
      } catch {
        if (!abort.signal.aborted) waitErrors++;
      }
    }
  };
  const searcher = async (): Promise<void> => {
    const queries = ['subject:bench', 'fox', 'from:bench@mailwire.test', 'lazy dog'];
    for (let n = 0; n < 1_000_000 && !abort.signal.aborted; n++) {
      const url = `${base}/api/v1/messages?limit=50&query=${encodeURIComponent(queries[n % queries.length] as string)}`;
      const t0 = performance.now();
      try {
        const r = await fetch(url, { signal: abort.signal });
        await r.arrayBuffer();
        if (r.ok) searchMs.push(performance.now() - t0);
        else searchErrors++;
        answered();
      } catch {
        if (!abort.signal.aborted) searchErrors++;
      }
    }
  };
  const all = Promise.all([...Array.from({ length: waiters }, (_, i) => waiter(i)), searcher()]);
  return {
    ready,
    async stop() {
      abort.abort();
      await all;
      const sorted = [...searchMs].sort((a, b) => a - b);
      return { waits, waitErrors, searches: sorted.length, searchErrors, searchP50Ms: pct(sorted, 50), searchP99Ms: pct(sorted, 99) };
    },
  };
}

// ---- index lag -------------------------------------------------------------------------------------------------

export type IndexLagReport = Readonly<{
  messages: number;
  connections: number;
  /** Messages that got a 250 (the rest failed). */
  accepted: number;
  /** msg/s from the first message sent to the last 250. */
  rate: number;
  /** Of the accepted: how many were announced as searchable before the deadline. */
  searchable: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** From the last 250 until the last accepted message was announced (NaN if some never were). */
  allSearchableAfterMs: number;
  /** Searches for three of the burst's subjects through the list API, after the burst: how many found their message. */
  spotChecks: string;
  errors: string[];
}>;

/** Listens to `GET /api/v1/events` and calls `onStored` with each `message-stored` id. */
async function listen(base: string, signal: AbortSignal, onStored: (id: string, at: number) => void): Promise<void> {
  const r = await fetch(`${base}/api/v1/events`, { signal });
  if (!r.ok || r.body === null) throw new Error(`GET /api/v1/events: ${r.status}`);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const pump = async (): Promise<void> => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const at = performance.now();
        buf += decoder.decode(value, { stream: true });
        let end = buf.indexOf('\n\n');
        while (end !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (block.startsWith('event: message-stored\n')) {
            const data = /\ndata: (.*)/.exec(block)?.[1];
            if (data !== undefined) onStored((JSON.parse(data) as { id: string }).id, at);
          }
          end = buf.indexOf('\n\n');
        }
      }
    } catch {
      // aborted at the end
    }
  };
  void pump();
}

/**
 * `messages` messages of about 1 KB, each with its own subject, from `connections` connections at once; waits for
 * every accepted one to be announced (bounded by `deadlineMs` after the last 250).
 */
export async function indexLag(server: HttpServer, messages = 20_000, connections = 20, deadlineMs = 60_000): Promise<IndexLagReport> {
  const stored = new Map<string, number>();
  const acked = new Map<string, number>();
  const subjects: string[] = [];
  const errors: string[] = [];
  const abort = new AbortController();
  /** Acknowledged, not yet announced. */
  const pending = new Set<string>();
  let allSeen: (() => void) | null = null;
  await listen(server.httpBase, abort.signal, (id, at) => {
    stored.set(id, at);
    if (pending.delete(id) && pending.size === 0) allSeen?.();
  });
  const prepared = Array.from({ length: messages }, (_, i) => {
    const subject = `index lag ${i} ${Math.random().toString(36).slice(2, 10)}`;
    subjects.push(subject);
    return PreparedMessage.from(benchMessage(1024, 'lag@mailwire.test', ['lag@mailwire.test']).toString('latin1').replace('Subject: mailwire bench', `Subject: ${subject}`));
  });
  let next = 0;
  let last250 = 0;
  const started = performance.now();
  const sender = async (): Promise<void> => {
    const client = await SmtpClient.open({ host: '127.0.0.1', port: server.smtpPort, timeoutMs: 30_000 });
    try {
      for (let i = next++; i < messages; i = next++) {
        try {
          const r = await client.send({ from: 'lag@mailwire.test', to: ['lag@mailwire.test'], raw: prepared[i] as PreparedMessage });
          const at = performance.now();
          const id = /queued as (\S+)/.exec(r.reply.lines.join(' '))?.[1];
          if (id === undefined) errors.push(`no id in "${r.reply.lines.join(' ')}"`);
          else {
            acked.set(id, at);
            if (!stored.has(id)) pending.add(id);
          }
          last250 = Math.max(last250, at);
        } catch (e) {
          if (errors.length < 5) errors.push((e as Error).message);
          if (!client.usable) return;
        }
      }
    } finally {
      await client.quit().catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: connections }, sender));
  const rate = acked.size / ((last250 - started) / 1000);
  // Wait (bounded) until every acknowledged message has been announced.
  if (pending.size > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      allSeen = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  abort.abort();
  const lags: number[] = [];
  let lastStored = 0;
  for (const [id, at] of acked) {
    const s = stored.get(id);
    if (s === undefined) continue;
    lags.push(s - at);
    lastStored = Math.max(lastStored, s);
  }
  lags.sort((a, b) => a - b);
  const complete = lags.length === acked.size;
  // Three subjects found through the search API (the burst's first, middle and last message).
  let found = 0;
  const picks = [0, Math.floor(messages / 2), messages - 1];
  for (const i of picks) {
    try {
      const r = await fetch(`${server.httpBase}/api/v1/messages?limit=5&query=${encodeURIComponent(`subject:"${subjects[i] ?? ''}"`)}`);
      const j = (await r.json()) as { messages?: unknown[] };
      if ((j.messages?.length ?? 0) >= 1) found++;
    } catch (e) {
      errors.push(`search: ${(e as Error).message}`);
    }
  }
  return {
    messages, connections, accepted: acked.size, rate, searchable: lags.length,
    lagP50Ms: pct(lags, 50), lagP99Ms: pct(lags, 99), lagMaxMs: lags.at(-1) ?? Number.NaN,
    allSearchableAfterMs: complete ? Math.max(0, lastStored - last250) : Number.NaN,
    spotChecks: `${found} of ${picks.length}`, errors,
  };
}
