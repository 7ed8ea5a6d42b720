/**
 * One HTTP request past the outbound guard: the host is resolved and checked once (OutboundGuard), and the socket
 * connects to exactly that address (the request's `lookup` answers with it), so a second DNS answer cannot redirect
 * it. Redirects are followed by hand, each hop checked again; credentials in a URL are never sent; at most
 * `maxBodyBytes` of a body are read; every request has a time limit.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { OutboundGuard } from './outbound-guard.js';

export type GuardedRequest = Readonly<{
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Readonly<Record<string, string>>;
  body?: Buffer | string;
  /** Per request (each redirect hop has its own); default 10 s. */
  timeoutMs?: number;
  /** Redirects followed at most; 0 returns the 3xx itself. Default 5. */
  maxRedirects?: number;
  /** Bytes of the response body kept; the rest is not read. Default 1 MiB. */
  maxBodyBytes?: number;
}>;

export type GuardedResponse =
  | Readonly<{
      ok: true;
      status: number;
      headers: http.IncomingHttpHeaders;
      /** Where the last hop went (after redirects). */
      url: string;
      /** Every URL requested, in order. */
      hops: readonly string[];
      body: Buffer;
      truncated: boolean;
      ms: number;
    }>
  | Readonly<{ ok: false; reason: string; url: string; hops: readonly string[]; ms: number; refused: boolean }>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function guardedFetch(guard: OutboundGuard, url: string, req: GuardedRequest = {}): Promise<GuardedResponse> {
  const started = performance.now();
  const hops: string[] = [];
  const ms = (): number => performance.now() - started;
  let method = req.method ?? 'GET';
  let body = req.body;
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    return { ok: false, reason: 'not a valid URL', url, hops, ms: ms(), refused: true };
  }
  const maxRedirects = req.maxRedirects ?? 5;
  for (let hop = 0; hop <= maxRedirects; hop++) {
    hops.push(current.href);
    const verdict = await guard.check(current);
    if (!verdict.ok) return { ok: false, reason: verdict.reason, url: current.href, hops, ms: ms(), refused: true };
    const answer = await requestOnce(current, verdict.address, verdict.family, method, body, req);
    if (answer.kind === 'error') return { ok: false, reason: answer.reason, url: current.href, hops, ms: ms(), refused: false };
    const location = answer.headers.location;
    if (REDIRECTS.has(answer.status) && typeof location === 'string' && hop < maxRedirects) {
      try {
        current = new URL(location, current);
      } catch {
        return { ok: false, reason: `redirect to an invalid URL: ${location.slice(0, 200)}`, url: current.href, hops, ms: ms(), refused: false };
      }
      if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    if (REDIRECTS.has(answer.status) && hop >= maxRedirects) {
      return { ok: false, reason: `more than ${maxRedirects} redirects`, url: current.href, hops, ms: ms(), refused: false };
    }
    return { ok: true, status: answer.status, headers: answer.headers, url: current.href, hops, body: answer.body, truncated: answer.truncated, ms: ms() };
  }
  return { ok: false, reason: `more than ${maxRedirects} redirects`, url: current.href, hops, ms: ms(), refused: false };
}

type Answer =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; truncated: boolean }
  | { kind: 'error'; reason: string };

function requestOnce(url: URL, address: string, family: 4 | 6, method: string, body: Buffer | string | undefined, req: GuardedRequest): Promise<Answer> {
  const timeoutMs = req.timeoutMs ?? 10_000;
  const maxBody = req.maxBodyBytes ?? 1024 * 1024;
  // The address the guard checked, whatever the name would resolve to now.
  const pinned: LookupFunction = (_host, options, callback) => {
    const cb = callback as (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void;
    if ((options as { all?: boolean }).all === true) cb(null, [{ address, family }]);
    else cb(null, address, family);
  };
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<Answer>((resolve) => {
    let settled = false;
    const done = (a: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const headers: Record<string, string> = { 'user-agent': 'mailwire-check', ...(req.headers ?? {}) };
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const request = mod.request({
      protocol: url.protocol, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`, method, headers, lookup: pinned, agent: false,
      // URL credentials are never forwarded (no `auth`), and an https name is checked against its certificate.
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBody - size;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size = maxBody;
          truncated = true;
          done({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated });
          res.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => done({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated }));
      res.on('error', (e) => done({ kind: 'error', reason: e.message }));
    });
    const timer = setTimeout(() => {
      done({ kind: 'error', reason: `no answer within ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'error', reason: e.code ? `${e.code}: ${e.message}` : e.message }));
    if (body !== undefined) request.write(body);
    request.end();
  });
}
