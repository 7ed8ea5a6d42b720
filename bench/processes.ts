/**
 * The child processes of the benchmarks: a server started and waited for until it listens, ended by its PID, and our
 * own server with its HTTP API on loopback ports (its SMTP and HTTP ports read from what it prints).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const MAILWIRE = join(process.cwd(), 'bin/mailwire.js');

/**
 * A peer that runs: `child` is ended by its PID; `cleanup` ends what is not a child of ours (and removes files).
 * `httpBase` is our server's HTTP API. `settle`, for our durable stores, waits until the index has caught up with every
 * acknowledged message and says how long that took: the indexing a run leaves behind (a 100 KB run leaves thousands)
 * would otherwise take the CPU from the next run, which then measures the two workloads at once.
 */
export type Running = { port: number; child?: ChildProcess; cleanup?: () => void; output?: string; httpBase?: string; settle?: () => Promise<number> };

/** Starts a child that prints "… 127.0.0.1:PORT" once listening; ends it by PID if it does not within 20 s. */
export function startListening(cmd: string, args: readonly string[], pattern = /127\.0\.0\.1:(\d+)/): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not start within 20 s:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, output: out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => { // 'close', not 'exit': by then its last output has been read
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code}) before listening:\n${out}`));
    });
  });
}

/** Ends a peer by its PID (SIGTERM, SIGKILL after 15 s), then its cleanup. */
export async function stopRunning(running: Running): Promise<void> {
  const child = running.child;
  if (child !== undefined) {
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 15_000);
      if (child.exitCode !== null) { clearTimeout(t); resolve(); }
      child.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
  running.cleanup?.();
}

const SETTLE_DEADLINE_MS = 180_000;

/** Polls /healthz until the index backlog is 0 (at most SETTLE_DEADLINE_MS); the milliseconds it took. */
export async function indexCaughtUp(httpBase: string): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < 10_000 && performance.now() - started < SETTLE_DEADLINE_MS; i++) {
    const res = await fetch(`${httpBase}/healthz`);
    const body = (await res.json()) as { store?: { indexBacklog?: unknown } };
    if (body.store?.indexBacklog === 0) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the index did not catch up within ${SETTLE_DEADLINE_MS / 1000} s (${httpBase}/healthz)`);
}

/** Our server with its HTTP API: both always there. */
export type RunningWithHttp = Running & { httpBase: string; settle: () => Promise<number> };

/**
 * `mailwire server` with `args` (after `server`) and its HTTP API on a loopback port of its own: resolves once both
 * listen, with the SMTP port as `port`, `httpBase`, and `settle`. `bin` is another build's bin/mailwire.js (--baseline).
 */
export async function startOursWithHttp(args: readonly string[], cleanup?: () => void, bin = MAILWIRE): Promise<RunningWithHttp> {
  const r = await startListening(process.execPath, [bin, 'server', '--http-host', '127.0.0.1', '--http-port', '0', ...args],
    /HTTP API on http:\/\/127\.0\.0\.1:(\d+)/);
  const smtpPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(r.output ?? '')?.[1]);
  const httpBase = `http://127.0.0.1:${r.port}`;
  const running: RunningWithHttp = { ...r, port: smtpPort, httpBase, settle: () => indexCaughtUp(httpBase), ...(cleanup ? { cleanup } : {}) };
  if (!Number.isInteger(smtpPort)) {
    await stopRunning(running);
    throw new Error(`no SMTP port in the server's output: ${r.output ?? ''}`);
  }
  return running;
}
