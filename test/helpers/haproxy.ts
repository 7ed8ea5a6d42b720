/**
 * A real HAProxy (Debian's `haproxy`) in front of mailwire, for tests: a generated configuration on free loopback
 * ports, run in the foreground (-db) as a child process and ended by its PID. Besides the proxied frontend it has an
 * admin frontend (mode http) with `monitor-uri /ready`, which says when HAProxy listens, and the stats page, which
 * says how each server's health checks went and how many connections each took.
 *
 *   const lb = await startHaproxy({ mode: 'tcp', servers: [{ port: a }, { port: b }], proxyProtocol: 'v2', check: 'smtp' });
 *   ... connect to lb.port ...
 *   await lb.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export type HaproxyServer = Readonly<{ port: number; host?: string; name?: string }>;

export type HaproxyOptions = Readonly<{
  /** tcp: relays bytes (SMTP); http: relays requests (the HTTP API). */
  mode: 'tcp' | 'http';
  servers: readonly HaproxyServer[];
  /** tcp mode: the PROXY header sent to each server before the client's bytes. Default 'v2' (send-proxy-v2). */
  proxyProtocol?: 'v1' | 'v2' | 'none';
  /** Default roundrobin. */
  balance?: 'roundrobin' | 'leastconn' | 'first';
  /**
   * Health checks: 'smtp' (option smtpchk: connect, 220, HELO, 250, QUIT; with send-proxy-v2 the check's header is a
   * PROXY v2 LOCAL), 'http' (GET /healthz), 'tcp' (connect only), 'none'. Default 'none'.
   */
  check?: 'smtp' | 'http' | 'tcp' | 'none';
}>;

export type ServerStats = Readonly<{ name: string; status: string; checkStatus: string; sessions: number }>;

export type RunningHaproxy = Readonly<{
  /** The proxied frontend on 127.0.0.1. */
  port: number;
  /** The configuration it runs, for failure messages. */
  config: string;
  /** What HAProxy printed (warnings, alerts). */
  output(): string;
  /** Each server's state, health check result and total connections, from the stats page. */
  stats(): Promise<ServerStats[]>;
  /** Resolves once every server is UP with its last health check passed (needs `check`), or fails at the deadline. */
  waitForServersUp(timeoutMs?: number): Promise<ServerStats[]>;
  stop(): Promise<void>;
}>;

/** Why the HAProxy tests cannot run here, or null when they can: the message a skipped test shows. */
export function haproxyMissing(): string | null {
  const found = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  return found.error === undefined && found.status === 0
    ? null
    : 'haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)';
}

/** A `before` hook for a suite that needs HAProxy: fails it loudly, naming what to install, when haproxy is missing. */
export function requireHaproxy(): void {
  const missing = haproxyMissing();
  if (missing !== null) throw new Error(missing);
}

/** A port free on 127.0.0.1 right now (HAProxy needs a number in its configuration; a clash is retried). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function haproxyConfig(o: HaproxyOptions, port: number, adminPort: number): string {
  const check = o.check ?? 'none';
  const proxy = o.mode === 'tcp' ? (o.proxyProtocol ?? 'v2') : 'none';
  const serverFlags = [
    ...(proxy === 'v2' ? ['send-proxy-v2'] : proxy === 'v1' ? ['send-proxy'] : []),
    ...(check === 'none' ? [] : ['check', 'inter 500ms', 'fall 2', 'rise 1']),
  ].join(' ');
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    `  mode ${o.mode}`,
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    ...(o.mode === 'http' ? ['  option forwardfor'] : []),
    'frontend mailwire_in',
    `  bind 127.0.0.1:${port}`,
    '  default_backend mailwire',
    'backend mailwire',
    `  balance ${o.balance ?? 'roundrobin'}`,
    ...(check === 'smtp' ? ['  option smtpchk HELO haproxy-check.test'] : check === 'http' ? ['  option httpchk', '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost'] : []),
    ...o.servers.map((s, i) => `  server ${s.name ?? `mailwire${i + 1}`} ${s.host ?? '127.0.0.1'}:${s.port} ${serverFlags}`.trimEnd()),
    'frontend admin',
    '  mode http',
    `  bind 127.0.0.1:${adminPort}`,
    '  monitor-uri /ready',
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

export async function startHaproxy(o: HaproxyOptions, timeoutMs = 10_000): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mailwire-haproxy-'));
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const adminPort = await freePort();
    const config = haproxyConfig(o, port, adminPort);
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
    try {
      await waitReady(child, adminPort, timeoutMs, () => output);
    } catch (error) {
      await stopChild(child);
      lastError = error instanceof Error ? error : new Error(String(error));
      if (/cannot bind|Address already in use/i.test(output)) continue; // another process took the port meanwhile
      break;
    }
    const stats = async (): Promise<ServerStats[]> => parseStats(await (await fetch(`http://127.0.0.1:${adminPort}/stats;csv`)).text());
    return {
      port,
      config,
      output: () => output,
      stats,
      async waitForServersUp(ms = 10_000) {
        let now: ServerStats[] = [];
        return waitFor("HAProxy's servers all UP", async () => {
          now = await stats();
          return now.length === o.servers.length && now.every((s) => s.status === 'UP' && /OK$/.test(s.checkStatus)) && now;
        }, { deadlineMs: ms, everyMs: 50, seen: () => `${JSON.stringify(now)}\n${output}` });
      },
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('HAProxy did not start');
}

/** Waits until HAProxy answers on its monitor URI (so every frontend listens), failing if it exits or the deadline passes. */
async function waitReady(child: ChildProcess, adminPort: number, timeoutMs: number, output: () => string): Promise<void> {
  await waitFor('HAProxy to answer on its monitor URI', async () => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`HAProxy exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    try {
      return (await fetch(`http://127.0.0.1:${adminPort}/ready`)).status === 200;
    } catch {
      return false; // not listening yet
    }
  }, { deadlineMs: timeoutMs, everyMs: 25, seen: output });
}

/** Ends the HAProxy this helper started, by its PID: SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const late = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(late);
}

/** The stats CSV: one row per proxy and server; the servers of backend "mailwire" are kept. */
function parseStats(csv: string): ServerStats[] {
  const [head = '', ...rows] = csv.split('\n').filter((l) => l.trim() !== '');
  const columns = head.replace(/^# /, '').split(',');
  const at = (name: string): number => columns.indexOf(name);
  return rows
    .map((row) => row.split(','))
    .filter((f) => f[at('pxname')] === 'mailwire' && !['FRONTEND', 'BACKEND'].includes(f[at('svname')] ?? ''))
    .map((f) => ({ name: f[at('svname')] ?? '', status: f[at('status')] ?? '', checkStatus: f[at('check_status')] ?? '', sessions: Number(f[at('stot')] ?? 0) }));
}
