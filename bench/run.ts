/**
 * `npm run bench` (issues 7 and 11): our server (durable SQLite and --store none, both dialects), nodemailer's
 * smtp-server, MailDev (in memory) and, where Postfix is installed, Postfix's smtp-sink and a private Postfix instance
 * (its durable queue, discard transport), each driven by `mailwire bench` and, where installed, by Postfix's
 * smtp-source, at fixed workloads; median of 3 runs (1 with --quick). Then the scenarios over the HTTP API (SMTP
 * throughput with readers, index lag; see scenarios.ts). Writes the tables into BENCHMARKS.md.
 *
 * `--only id,id` runs only those peers and scenarios (ids as in the tables) and leaves BENCHMARKS.md alone.
 * `--baseline DIR` adds another built checkout (DIR/bin/mailwire.js, after `npm ci` there) as two more peers, its durable
 * SQLite and its --store none, and a table of ours ÷ it per workload; BENCHMARKS.md is then left alone too.
 *
 * Every server and generator is a child process, ended by its PID (the Postfix instance by `postfix -c DIR stop`);
 * every run is bounded in time (mailwire bench by --duration, smtp-source by a message count sized from mailwire's
 * rate in the same cell, and a kill deadline).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { barChartSvg } from './svg-chart.js';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postfixQueueUnavailable, startPostfixQueue } from './postfix-queue.js';
import { MAILWIRE, startListening, startOursWithHttp, stopRunning, type Running } from './processes.js';
import { indexLag, startReaders, type IndexLagReport, type ReadersReport } from './scenarios.js';
import { unfinishedMemory, type UnfinishedReport } from './unfinished-memory.js';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined);
const ONLY: ReadonlySet<string> | null = onlyArg === undefined ? null : new Set(onlyArg.split(','));
const baselineArg = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length) ??
  (process.argv.includes('--baseline') ? process.argv[process.argv.indexOf('--baseline') + 1] : undefined);
const BASELINE_BIN = baselineArg === undefined ? null : resolve(baselineArg, 'bin/mailwire.js');
if (BASELINE_BIN !== null && !existsSync(BASELINE_BIN)) {
  console.error(`--baseline ${baselineArg}: no ${BASELINE_BIN} there; give a checkout of another commit after npm ci`);
  process.exit(2);
}
const wanted = (id: string): boolean => ONLY === null || ONLY.has(id);
const REPS = quick ? 1 : 3;
const DURATION_S = 2;
const WARMUP = '0.3s';
const RUN_DEADLINE_MS = 30_000;
const ROOT = process.cwd();

function findPostfix(name: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/local/sbin', '/usr/libexec/postfix', ...(process.env.PATH ?? '').split(':')]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}
const SMTP_SOURCE = findPostfix('smtp-source');
const SMTP_SINK = findPostfix('smtp-sink');

type Workload = Readonly<{ id: string; label: string; connections: number; size: number; newConnection: boolean }>;
const WORKLOADS: readonly Workload[] = [
  { id: '1x1k', label: '1 connection × 1 KB', connections: 1, size: 1024, newConnection: false },
  { id: '20x1k', label: '20 connections × 1 KB', connections: 20, size: 1024, newConnection: false },
  { id: '100x1k', label: '100 connections × 1 KB', connections: 100, size: 1024, newConnection: false },
  { id: '20x100k', label: '20 connections × 100 KB', connections: 20, size: 102_400, newConnection: false },
  { id: 'new1', label: 'new connection per message, sequential, 1 KB', connections: 1, size: 1024, newConnection: true },
  { id: 'new20', label: 'new connection per message, 20 parallel, 1 KB', connections: 20, size: 1024, newConnection: true },
];

type Target = Readonly<{
  id: string;
  label: string;
  /** The simplified dialect wants HELO before every message: smtp-source -d (several messages per session) fails. */
  simplified: boolean;
  start: () => Promise<Running>;
}>;
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const end = performance.now() + deadlineMs;
  for (let i = 0; i < 200 && performance.now() < end; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** PostgreSQL for the postgres column: a database of its own on this server (psql), dropped after. */
const BENCH_PG_URL = process.env.MAILWIRE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const psql = (sql: string): void => void execFileSync('psql', [BENCH_PG_URL, '-qc', sql], { stdio: 'pipe' });

/** `baseline`: the same server from the --baseline build (ids `base-…`). */
function ours(store: 'sqlite' | 'postgres' | 'none', dialect: 'smtp' | 'simplified', workers = 1, baseline = false): Target {
  const durable = { sqlite: 'SQLite (durable)', postgres: 'PostgreSQL (durable)', none: '--store none' }[store];
  const bin = baseline ? (BASELINE_BIN as string) : MAILWIRE;
  return {
    id: `${baseline ? 'base' : 'ours'}-${store}-${dialect}${workers > 1 ? `-w${workers}` : ''}`,
    label: `${baseline ? 'baseline ' : ''}mailwire ${dialect}, ${durable}${workers > 1 ? `, --workers ${workers}` : ''}`,
    simplified: dialect === 'simplified',
    start: async () => {
      const dir = store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'mailwire-bench-')) : null;
      const db = store === 'postgres' ? `mailwire_bench_${process.pid}` : null;
      if (db !== null) psql(`CREATE DATABASE ${db}`); // throws when PostgreSQL is not there: the column is skipped
      const url = db === null ? '' : BENCH_PG_URL.replace(/\/[^/]*$/, `/${db}`);
      const args = ['--quiet', '--port', '0', '--dialect', dialect, '--store', store,
        ...(dir === null ? [] : ['--data-dir', dir]), ...(db === null ? [] : ['--database-url', url]),
        ...(store === 'none' ? [] : ['--max-messages', '0']), ...(workers > 1 ? ['--workers', String(workers)] : [])];
      const cleanup = (): void => {
        if (dir !== null) rmSync(dir, { recursive: true, force: true });
        if (db !== null) psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      };
      if (store === 'none') return { ...(await startListening(process.execPath, [bin, 'server', '--no-http', ...args])), cleanup };
      // A durable store gets its HTTP API (loopback) for /healthz's index backlog, which `settle` reads between runs.
      return startOursWithHttp(args, cleanup, bin);
    },
  };
}

const TARGETS: Target[] = [
  ours('sqlite', 'smtp'),
  ours('postgres', 'smtp'),
  ours('sqlite', 'simplified'),
  ours('none', 'smtp'),
  ours('none', 'smtp', 2),
  ours('none', 'simplified'),
  ...(BASELINE_BIN === null ? [] : [ours('sqlite', 'smtp', 1, true), ours('none', 'smtp', 1, true)]),
  {
    id: 'smtp-server', label: 'nodemailer smtp-server (sink)', simplified: false,
    start: () => startListening(process.execPath, [join(ROOT, 'dist/bench/smtp-server-sink.js')]),
  },
];
TARGETS.push({
  id: 'maildev', label: 'MailDev (in memory)', simplified: false,
  start: async () => {
    const [smtp, web] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/maildev/dist/bin/maildev.js'), '--smtp', String(smtp), '--ip', '127.0.0.1',
      '--web', String(web), '--web-ip', '127.0.0.1', '--silent'], { stdio: 'ignore' });
    await waitForPort(smtp, 20_000);
    return { port: smtp, child };
  },
});
/** Why a peer is not in the tables, for the report. */
const UNAVAILABLE: string[] = [];
const postfixWhyNot = postfixQueueUnavailable();
if (postfixWhyNot === null) {
  TARGETS.push({
    id: 'postfix-queue', label: 'Postfix smtpd + cleanup (durable queue)', simplified: false,
    start: async () => {
      const q = await startPostfixQueue(await freePort());
      try {
        await waitForPort(q.port, 20_000);
      } catch (e) {
        q.stop();
        throw e;
      }
      return { port: q.port, cleanup: q.stop };
    },
  });
} else UNAVAILABLE.push(`Postfix smtpd + cleanup (durable queue): not available: ${postfixWhyNot}.`);
if (SMTP_SINK !== null) {
  TARGETS.push({
    id: 'smtp-sink', label: 'Postfix smtp-sink', simplified: false,
    start: async () => {
      const port = await freePort();
      const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
      const child = spawn(SMTP_SINK, [...asRoot, `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
      await waitForPort(port, 10_000);
      return { port, child };
    },
  });
}

type Sample = { rate: number; errors: number; note?: string };

function runChild(cmd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_DEADLINE_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

export function mailwireArgs(port: number, w: Workload, simplified: boolean): string[] {
  return [MAILWIRE, 'bench', '--server', `127.0.0.1:${port}`, '--connections', String(w.connections), '--size', String(w.size),
    '--duration', `${DURATION_S}s`, '--warmup', WARMUP, '--json', '--timeout', '10s',
    ...(w.newConnection ? ['--new-connection-per-message'] : []), ...(simplified ? ['--simplified'] : [])];
}

async function runMailwire(port: number, w: Workload, simplified: boolean): Promise<Sample> {
  const r = await runChild(process.execPath, mailwireArgs(port, w, simplified));
  try {
    const j = JSON.parse(r.stdout) as { messagesPerSecond: number; failed: number; errors: Record<string, number> };
    return { rate: j.messagesPerSecond, errors: j.failed, ...(j.failed > 0 ? { note: JSON.stringify(j.errors) } : {}) };
  } catch {
    return { rate: Number.NaN, errors: 1, note: `exit ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
  }
}

export function sourceArgs(port: number, w: Workload, messages: number): string[] {
  return [...(w.newConnection ? [] : ['-d']), '-s', String(w.connections), '-m', String(messages), '-l', String(w.size), `127.0.0.1:${port}`];
}

async function runSource(port: number, w: Workload, messages: number): Promise<Sample> {
  const r = await runChild(SMTP_SOURCE as string, sourceArgs(port, w, messages));
  if (r.code !== 0) return { rate: Number.NaN, errors: 1, note: (r.stderr.trim().split('\n').pop() ?? '').replace(/^.*fatal: /, '') };
  return { rate: messages / (r.ms / 1000), errors: 0 };
}

const median = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  return v.length % 2 === 1 ? (v[(v.length - 1) / 2] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
};

type Cell = { mailwire: Sample[]; source: Sample[] };

async function main(): Promise<void> {
  const started = performance.now();
  const load0 = loadavg();
  console.log(`npm run bench${quick ? ' --quick' : ''}: ${REPS} run(s) per cell, ${DURATION_S} s each (+${WARMUP} warm-up)`);
  if (SMTP_SOURCE === null) console.log('Postfix smtp-source is not installed: only mailwire bench drives the servers (no second column).');
  if (SMTP_SINK === null) console.log('Postfix smtp-sink is not installed: no ceiling column.');
  for (const line of UNAVAILABLE) console.log(line);
  const cells = new Map<string, Cell>();
  for (const target of TARGETS.filter((t) => wanted(t.id))) {
    let running: Running;
    try {
      running = await target.start();
    } catch (e) {
      console.log(`${target.label}: cannot start (${(e as Error).message.trim().split('\n').slice(0, 6).join(' / ')}), skipped`);
      continue;
    }
    try {
      for (const w of WORKLOADS) {
        const cell: Cell = { mailwire: [], source: [] };
        cells.set(`${target.id}/${w.id}`, cell);
        // smtp-source without -d says HELO before each message: that works with the simplified dialect; with -d not.
        const sourceApplies = SMTP_SOURCE !== null && (!target.simplified || w.newConnection);
        for (let rep = 0; rep < REPS; rep++) {
          const settled: number[] = [];
          const settle = async (): Promise<void> => {
            if (running.settle !== undefined) settled.push(await running.settle());
          };
          await settle();
          const m = await runMailwire(running.port, w, target.simplified);
          cell.mailwire.push(m);
          if (sourceApplies) {
            const count = Math.max(w.connections * 2, Math.min(200_000, Math.round((Number.isFinite(m.rate) ? m.rate : 1000) * DURATION_S)));
            await settle();
            cell.source.push(await runSource(running.port, w, count));
          }
          const s = cell.source[rep];
          console.log(`${target.id.padEnd(24)} ${w.id.padEnd(8)} run ${rep + 1}: mailwire bench ${fmt(m.rate)}${m.note ? ` (${m.note})` : ''}` +
            (s ? `, smtp-source ${fmt(s.rate)}${s.note ? ` (${s.note})` : ''}` : '') +
            (settled.length > 0 ? ` (index caught up after ${settled.map((x) => `${Math.round(x)} ms`).join(', ')})` : ''));
        }
      }
    } finally {
      await stopRunning(running);
    }
  }
  const scenarios = new Map<string, ScenarioResult>();
  for (const sc of SCENARIOS.filter((x) => wanted(x.id))) {
    console.log(`scenario ${sc.id}: ${sc.label}`);
    try {
      scenarios.set(sc.id, await sc.run());
    } catch (e) {
      console.log(`scenario ${sc.id} failed: ${(e as Error).message.split('\n')[0]}`);
      scenarios.set(sc.id, { lines: [`${sc.label}: failed (${(e as Error).message.split('\n')[0]})`, ''], goals: [] });
    }
  }
  const wallS = (performance.now() - started) / 1000;
  const full = ONLY === null && BASELINE_BIN === null;
  const md = report(cells, scenarios, load0, loadavg(), wallS, full);
  console.log(`\n${md}`);
  if (full) {
    writeCharts(cells);
    writeBenchmarks(md);
    console.log(`\nwritten to BENCHMARKS.md (${wallS.toFixed(0)} s)`);
  } else console.log(`\n--only or --baseline: BENCHMARKS.md left as it is (${wallS.toFixed(0)} s)`);
}

// ---- scenarios over the HTTP API (issue 11) -------------------------------------------------------------------

/** A goal: `got` against `want`; met when got >= want (or <= with `atMost`). */
type Goal = Readonly<{ name: string; got: number; want: number; unit: '×' | 'ms' | 'msg/s' | 'MiB'; atMost?: boolean }>;
type ScenarioResult = Readonly<{ lines: string[]; goals: Goal[] }>;
type Scenario = Readonly<{ id: string; label: string; run: () => Promise<ScenarioResult> }>;

/** Our durable server with its HTTP API on loopback ports of its own, in a fresh data directory. */
async function startDurableWithHttp(): Promise<{ running: Running; smtpPort: number; httpBase: string }> {
  const running = await ours('sqlite', 'smtp').start();
  if (running.httpBase === undefined) {
    await stopRunning(running);
    throw new Error('the durable server has no HTTP API');
  }
  return { running, smtpPort: running.port, httpBase: running.httpBase };
}

const W20x1k = WORKLOADS.find((w) => w.id === '20x1k') as Workload;

const SCENARIOS: readonly Scenario[] = [
  {
    id: 'readers',
    label: '200 wait long-polls and a searching client during SMTP load (mailwire bench, 20 × 1 KB, durable) vs the same load without them',
    async run() {
      const s = await startDurableWithHttp();
      const without: Sample[] = [];
      const withReaders: Sample[] = [];
      const reports: ReadersReport[] = [];
      try {
        for (let rep = 0; rep < REPS; rep++) {
          // Alternated, so that the store growing run by run weighs on both sides alike.
          for (const withThem of rep % 2 === 0 ? [false, true] : [true, false]) {
            if (!withThem) {
              without.push(await runMailwire(s.smtpPort, W20x1k, false));
              console.log(`readers  run ${rep + 1} without readers: ${fmt(without.at(-1)?.rate ?? Number.NaN)}`);
              continue;
            }
            const readers = startReaders(s.httpBase, 200);
            await readers.ready;
            withReaders.push(await runMailwire(s.smtpPort, W20x1k, false));
            reports.push(await readers.stop());
            const r = reports.at(-1) as ReadersReport;
            console.log(`readers  run ${rep + 1} with readers: ${fmt(withReaders.at(-1)?.rate ?? Number.NaN)} ` +
              `(${r.searches} searches, p99 ${r.searchP99Ms.toFixed(1)} ms, ${r.waitErrors + r.searchErrors} errors)`);
          }
        }
      } finally {
        await stopRunning(s.running);
      }
      const a = median(without.map((x) => x.rate));
      const b = median(withReaders.map((x) => x.rate));
      const searches = reports.reduce((n, r) => n + r.searches, 0);
      const errors = reports.reduce((n, r) => n + r.waitErrors + r.searchErrors, 0);
      return {
        lines: [
          `| SMTP msg/s without readers | with 200 waiters + a searcher | ratio | searches answered | search p50 / p99 (median over runs) | reader errors |`,
          '|---:|---:|---:|---:|---:|---:|',
          `| ${fmt(a)} | ${fmt(b)} | ${ratio(b, a)} | ${searches} | ${median(reports.map((r) => r.searchP50Ms)).toFixed(1)} / ${median(reports.map((r) => r.searchP99Ms)).toFixed(1)} ms | ${errors} |`,
          '',
          `Runs, msg/s: without ${without.map((x) => fmt(x.rate)).join(', ')}; with ${withReaders.map((x) => fmt(x.rate)).join(', ')}.`,
        ],
        goals: [{ name: 'SMTP throughput with 200 waiters + a searcher / without (durable, 20 × 1 KB)', got: b / a, want: 0.8, unit: '×' }],
      };
    },
  },
  {
    id: 'index-lag',
    label: `index lag: ${quick ? '5,000' : '20,000'} messages from 20 connections, from each 250 to its message-stored event (searchable)`,
    async run() {
      const s = await startDurableWithHttp();
      let r: IndexLagReport;
      try {
        r = await indexLag(s, quick ? 5_000 : 20_000, 20);
      } finally {
        await stopRunning(s.running);
      }
      const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '—');
      console.log(`index-lag: ${r.accepted} accepted at ${fmt(r.rate)} msg/s; lag p50 ${ms(r.lagP50Ms)}, p99 ${ms(r.lagP99Ms)}; all searchable ${ms(r.allSearchableAfterMs)} after the last 250`);
      return {
        lines: [
          '| messages × connections | accepted | msg/s (first send to last 250) | announced | 250 → searchable p50 | p99 | max | last 250 → all searchable | subjects found by search |',
          '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
          `| ${r.messages.toLocaleString('en-US')} × ${r.connections} | ${r.accepted.toLocaleString('en-US')} | ${fmt(r.rate)} | ${r.searchable.toLocaleString('en-US')} | ` +
            `${ms(r.lagP50Ms)} | ${ms(r.lagP99Ms)} | ${ms(r.lagMaxMs)} | ${ms(r.allSearchableAfterMs)} | ${r.spotChecks} |`,
          ...(r.errors.length === 0 ? [] : ['', `Errors: ${r.errors.slice(0, 5).join('; ')}`]),
          '',
          'A negative lag means the event reached the listener before the 250 reached its sender (both in the bench process).',
        ],
        goals: [{ name: 'index lag: last 250 → all searchable (ms)', got: r.allSearchableAfterMs, want: 5_000, unit: 'ms', atMost: true }],
      };
    },
  },
  {
    id: 'spool-memory',
    label: 'issue 25: 100 connections each holding an unfinished 20 MB message (durable SQLite server), its RSS growth',
    async run() {
      const s = await startDurableWithHttp();
      const pid = s.running.child?.pid;
      let r: UnfinishedReport;
      try {
        if (pid === undefined) throw new Error('the server is not a child of this process');
        r = await unfinishedMemory(pid, s.smtpPort, 100, 20_000_000);
      } finally {
        await stopRunning(s.running);
      }
      console.log(`spool-memory: RSS ${r.rssBeforeMiB.toFixed(1)} MiB before, grew by ${r.grownMiB.toFixed(1)} MiB with ${r.connections} × ${r.bytes / 1e6} MB unfinished (${r.seconds.toFixed(1)} s to send)`);
      return {
        lines: [
          '| unfinished messages | RSS before | RSS growth once every byte was read | time to send |',
          '|---|---:|---:|---:|',
          `| ${r.connections} × ${r.bytes / 1e6} MB | ${r.rssBeforeMiB.toFixed(1)} MiB | ${r.grownMiB.toFixed(1)} MiB | ${r.seconds.toFixed(1)} s |`,
          '',
        ],
        goals: [{ name: '100 unfinished 20 MB messages: RSS growth (MiB)', got: r.grownMiB, want: 100, unit: 'MiB', atMost: true }],
      };
    },
  },
];

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');

function machine(): string[] {
  const model = /model name\s*:\s*(.*)/.exec(safeRead('/proc/cpuinfo'))?.[1] ?? cpus()[0]?.model ?? '?';
  let free = '';
  try {
    free = execFileSync('free', ['-h'], { encoding: 'utf8' }).trim();
  } catch {
    free = '(free not available)';
  }
  return [
    `- CPU: ${model}; nproc ${availableParallelism()}`,
    `- Node ${process.version}; ${SMTP_SOURCE === null ? 'Postfix not installed' : `Postfix tools: ${SMTP_SOURCE}, ${SMTP_SINK ?? 'no smtp-sink'}`}`,
    '- Memory (`free -h`):', '', '```', free, '```',
  ];
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Where the charts go (one SVG per workload), beside this file's source; BENCHMARKS.md links them. */
const CHARTS_DIR = 'bench/charts';

/** One chart per workload: each server's median msg/s with mailwire bench as the generator, ours in blue. */
function writeCharts(cells: Map<string, Cell>): void {
  mkdirSync(join(ROOT, CHARTS_DIR), { recursive: true });
  const targets = TARGETS.filter((t) => [...cells.keys()].some((k) => k.startsWith(`${t.id}/`)));
  for (const w of WORKLOADS) {
    const bars = targets.map((t) => ({ label: t.label, value: median((cells.get(`${t.id}/${w.id}`)?.mailwire ?? []).map((s) => s.rate)), ours: t.id.startsWith('ours-') }));
    writeFileSync(join(ROOT, CHARTS_DIR, `${w.id}.svg`), barChartSvg(w.label, 'msg/s, mailwire bench', bars));
  }
}

function report(cells: Map<string, Cell>, scenarios: Map<string, ScenarioResult>, load0: number[], load1: number[], wallS: number, charts = false): string {
  const med = (t: string, w: string, g: 'mailwire' | 'source'): number => median((cells.get(`${t}/${w}`)?.[g] ?? []).map((s) => s.rate));
  const out: string[] = [];
  out.push(`Run on ${new Date().toISOString()}, ${REPS === 1 ? '1 run' : `median of ${REPS} runs`} per cell, each run ${DURATION_S} s ` +
    `after a ${WARMUP} warm-up (mailwire bench) or a message count sized to about ${DURATION_S} s (smtp-source); ` +
    `load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end; ${wallS.toFixed(0)} s in all.`, '');
  out.push(...machine(), '');
  for (const line of UNAVAILABLE) out.push(`- ${line}`);
  if (UNAVAILABLE.length > 0) out.push('');
  const targets = TARGETS.filter((t) => [...cells.keys()].some((k) => k.startsWith(`${t.id}/`)));
  for (const g of ['source', 'mailwire'] as const) {
    if ((g === 'source' && SMTP_SOURCE === null) || targets.length === 0) continue;
    out.push(`### Messages/s, generator: ${g === 'source' ? 'Postfix smtp-source' : 'mailwire bench'}`, '');
    out.push(`| workload | ${targets.map((t) => t.label).join(' | ')} | ours none/smtp-server | ours SQLite/smtp-server | ours SQLite/ours none |`);
    out.push(`|---|${targets.map(() => '---:').join('|')}|---:|---:|---:|`);
    for (const w of WORKLOADS) {
      const row = targets.map((t) => {
        const c = cells.get(`${t.id}/${w.id}`);
        const samples = c?.[g] ?? [];
        if (samples.length === 0) return t.simplified && g === 'source' ? 'n/a (-d: 503)' : '—';
        const v = med(t.id, w.id, g);
        const errs = samples.reduce((a, s) => a + s.errors, 0);
        return `${fmt(v)}${errs > 0 ? ` (${errs} err)` : ''}`;
      });
      const theirs = med('smtp-server', w.id, g);
      out.push(`| ${w.label} | ${row.join(' | ')} | ${ratio(med('ours-none-smtp', w.id, g), theirs)} | ${ratio(med('ours-sqlite-smtp', w.id, g), theirs)} | ` +
        `${ratio(med('ours-sqlite-smtp', w.id, g), med('ours-none-smtp', w.id, g))} |`);
    }
    out.push('');
  }
  if (charts && targets.length > 0) {
    out.push('### Charts: messages/s per workload, generator: mailwire bench (drawn from the table above)', '');
    for (const w of WORKLOADS) out.push(`![${w.label}](${CHARTS_DIR}/${w.id}.svg)`);
    out.push('');
  }
  if (SMTP_SOURCE !== null && targets.length > 0) {
    out.push('### The generator: mailwire bench / smtp-source, same server, same workload', '');
    out.push(`| workload | ${targets.map((t) => t.label).join(' | ')} |`);
    out.push(`|---|${targets.map(() => '---:').join('|')}|`);
    for (const w of WORKLOADS) out.push(`| ${w.label} | ${targets.map((t) => ratio(med(t.id, w.id, 'mailwire'), med(t.id, w.id, 'source'))).join(' | ')} |`);
    out.push('');
  }
  if (BASELINE_BIN !== null) {
    out.push(`### Ours ÷ the baseline (${BASELINE_BIN}), generator: mailwire bench`, '');
    out.push('| workload | SQLite (durable) | --store none |', '|---|---:|---:|');
    for (const w of WORKLOADS) {
      out.push(`| ${w.label} | ${ratio(med('ours-sqlite-smtp', w.id, 'mailwire'), med('base-sqlite-smtp', w.id, 'mailwire'))} | ` +
        `${ratio(med('ours-none-smtp', w.id, 'mailwire'), med('base-none-smtp', w.id, 'mailwire'))} |`);
    }
    out.push('');
  }
  for (const sc of SCENARIOS) {
    const r = scenarios.get(sc.id);
    if (r !== undefined) out.push(`### Scenario: ${sc.label}`, '', ...r.lines, '');
  }
  out.push('### Goals of issue 11 (smtp dialect; ratios within this run; smtp-source figures where installed, else mailwire bench)', '');
  const g = SMTP_SOURCE === null ? 'mailwire' : 'source';
  const vs = (name: string, a: string, b: string, w: string, want: number): Goal => ({ name, got: med(a, w, g) / med(b, w, g), want, unit: '×' });
  const goals: Goal[] = [
    vs('--store none / smtp-server, 20 × 1 KB', 'ours-none-smtp', 'smtp-server', '20x1k', 1.3),
    vs('--store none / smtp-sink, new connection per message, sequential', 'ours-none-smtp', 'smtp-sink', 'new1', 0.9),
    vs('--store none / smtp-sink, new connection per message, 20 parallel', 'ours-none-smtp', 'smtp-sink', 'new20', 0.8),
    vs('SQLite (durable) / smtp-server, 20 × 1 KB', 'ours-sqlite-smtp', 'smtp-server', '20x1k', 0.6),
    vs('SQLite / --store none, 20 × 1 KB', 'ours-sqlite-smtp', 'ours-none-smtp', '20x1k', 0.6),
    vs('SQLite / --store none, 20 × 100 KB', 'ours-sqlite-smtp', 'ours-none-smtp', '20x100k', 0.5),
    vs('SQLite / --store none, 1 connection × 1 KB', 'ours-sqlite-smtp', 'ours-none-smtp', '1x1k', 0.5),
    vs('SQLite / --store none, new connection per message, sequential', 'ours-sqlite-smtp', 'ours-none-smtp', 'new1', 0.7),
    vs('SQLite / --store none, new connection per message, 20 parallel', 'ours-sqlite-smtp', 'ours-none-smtp', 'new20', 0.7),
    vs('SQLite / Postfix durable queue, 20 × 1 KB', 'ours-sqlite-smtp', 'postfix-queue', '20x1k', 2),
    vs('SQLite / Postfix durable queue, 20 × 100 KB', 'ours-sqlite-smtp', 'postfix-queue', '20x100k', 2),
    vs('SQLite / MailDev, 20 × 1 KB', 'ours-sqlite-smtp', 'maildev', '20x1k', 4),
    vs('PostgreSQL (durable) / SQLite (durable), 20 × 1 KB (issue 12)', 'ours-postgres-smtp', 'ours-sqlite-smtp', '20x1k', 0.5),
    ...[...scenarios.values()].flatMap((r) => r.goals),
  ];
  const show = (x: number, unit: Goal['unit']): string =>
    !Number.isFinite(x) ? '—' : unit === '×' ? `${x.toFixed(2)}×` : unit === 'ms' ? `${Math.round(x).toLocaleString('en-US')} ms` : unit === 'MiB' ? `${x.toFixed(1)} MiB` : fmt(x);
  out.push('| goal | measured | target | |', '|---|---:|---:|---|');
  for (const goal of goals) {
    const { got, want } = goal;
    const ok = goal.atMost === true ? got <= want : got >= want;
    const by = goal.atMost === true ? Math.round((got / want - 1) * 100) : Math.round((1 - got / want) * 100);
    out.push(`| ${goal.name} | ${show(got, goal.unit)} | ${goal.atMost === true ? '≤' : '≥'} ${show(want, goal.unit)} | ` +
      `${!Number.isFinite(got) || !Number.isFinite(want) ? 'not measured' : ok ? 'met' : `missed by ${by} %`} |`);
  }
  out.push('', '### Every run (msg/s)', '', '| server | workload | mailwire bench | smtp-source |', '|---|---|---|---|');
  for (const t of targets) {
    for (const w of WORKLOADS) {
      const c = cells.get(`${t.id}/${w.id}`);
      if (!c) continue;
      const list = (xs: Sample[]): string => xs.map((s) => `${fmt(s.rate)}${s.note ? ` (${s.note})` : ''}`).join(', ') || '—';
      out.push(`| ${t.id} | ${w.id} | ${list(c.mailwire)} | ${list(c.source)} |`);
    }
  }
  out.push('', 'Commands of one cell (PORT is the server\'s):', '', '```sh');
  const sample = WORKLOADS[1] as Workload;
  out.push('# the durable servers: before each run, /healthz is polled until the index backlog is 0 (the last run\'s indexing done)');
  out.push(`node bin/mailwire.js server --quiet --http-host 127.0.0.1 --http-port 0 --port 0 --dialect smtp --store sqlite --data-dir "$(mktemp -d)" --max-messages 0`);
  out.push(`node bin/mailwire.js server --quiet --http-host 127.0.0.1 --http-port 0 --port 0 --dialect smtp --store postgres --database-url postgres://postgres@127.0.0.1:5432/DB --max-messages 0   # DB made and dropped per run`);
  out.push(`node bin/mailwire.js server --quiet --no-http --port 0 --dialect smtp --store none`);
  out.push('node dist/bench/smtp-server-sink.js   # nodemailer smtp-server, AUTH and STARTTLS disabled');
  out.push('smtp-sink -u nobody 127.0.0.1:PORT 1000   # -u only as root');
  out.push('node node_modules/maildev/dist/bin/maildev.js --smtp PORT --ip 127.0.0.1 --web PORT2 --web-ip 127.0.0.1 --silent   # in memory');
  out.push('# Postfix durable queue: bench/postfix-queue.ts writes main.cf/master.cf into a temp dir, then postfix -c DIR/etc start');
  out.push(`node bin/mailwire.js ${mailwireArgs(0, sample, false).slice(1).join(' ').replace('127.0.0.1:0', '127.0.0.1:PORT')}   # --simplified for the simplified dialect`);
  out.push(`smtp-source ${sourceArgs(0, sample, 40_000).join(' ').replace('127.0.0.1:0', '127.0.0.1:PORT')}   # -d kept off with a new connection per message`);
  out.push('```');
  return out.join('\n');
}

const BEGIN = '<!-- npm run bench: begin (generated) -->';
const END = '<!-- npm run bench: end -->';

function writeBenchmarks(md: string): void {
  const path = join(ROOT, 'BENCHMARKS.md');
  const block = `${BEGIN}\n${md}\n${END}`;
  const old = safeRead(path);
  const i = old.indexOf(BEGIN);
  const j = old.indexOf(END);
  const next = i !== -1 && j > i ? old.slice(0, i) + block + old.slice(j + END.length) : `# Benchmarks\n\nRerun with \`npm run bench\` (about 10 minutes; \`npm run bench -- --quick\`: one run per cell).\n\n${block}\n`;
  writeFileSync(path, next);
}

await main();
