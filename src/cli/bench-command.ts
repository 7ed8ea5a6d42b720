/**
 * `mailwire bench`: a load generator. Flags → LoadOptions, a live progress bar on a terminal, then the report: rate,
 * bytes/s, errors by reply code, latency percentiles per message and per command; or, with --json, one JSON
 * document alone on standard output.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { DEFAULT_PORT } from '../config.js';
import { PreparedMessage } from '../smtp/client/prepared.js';
import type { ClientOptions } from '../smtp/client/client.js';
import type { PipeliningPolicy } from '../smtp/core/client-session.js';
import { hostPort, parseServerAddress } from '../net/host-port.js';
import { checkDomain } from '../smtp/core/mailbox-syntax.js';
import { runLoad, type Amount } from '../loadgen/load.js';
import { benchMessage } from '../loadgen/message.js';
import { BenchTally, type BenchReport } from '../loadgen/tally.js';
import type { LatencyBin, LatencySummary } from '../loadgen/histogram.js';
import { parseByteSize, parseDuration, parsePositiveInt } from './parse.js';
import { UsageError } from '../errors.js';

type BenchFlags = {
  server: string;
  connections: number;
  messages?: number;
  duration?: number;
  size: number;
  messageFile?: string;
  recipients: number;
  from: string;
  newConnectionPerMessage?: boolean;
  pipelining: PipeliningPolicy;
  warmup?: Amount;
  simplified?: boolean;
  ehlo: string;
  timeout: number;
  json?: boolean;
  progress: boolean;
};

export type BenchIO = Readonly<{
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Both outputs are terminals: a progress bar may be drawn (on standard error). */
  interactive: boolean;
}>;

/** "500" (messages) or "2s" (a duration). */
export function parseAmount(value: string): Amount {
  if (/^\d+$/.test(value.trim())) return { messages: Number(value) };
  try {
    return { durationMs: parseDuration(value) };
  } catch {
    throw new InvalidArgumentError('expected a number of messages (500) or a duration (2s).');
  }
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('load-test an SMTP server: messages/s, bytes/s, errors by reply code, latency percentiles per message and per command')
    .option('--server <host[:port]>', 'the server; IPv6 as [::1]:2525', `127.0.0.1:${DEFAULT_PORT}`)
    .option('--connections <c>', 'connections (sessions) at once', parsePositiveInt, 1)
    .option('--messages <n>', 'messages to send (default 1000 unless --duration)', parsePositiveInt)
    .addOption(new Option('--duration <duration>', 'send for this long instead of a message count, e.g. 10s').argParser(parseDuration))
    .addOption(new Option('--size <bytes>', 'message size, e.g. 1KB, 100KB').argParser(parseByteSize).default(1000, '1KB'))
    .option('--message-file <file>', 'send this message (RFC 5322, line ends made CRLF) instead of a generated one')
    .option('--recipients <r>', 'recipients per message', parsePositiveInt, 1)
    .option('--from <address>', 'envelope sender', 'bench@mailwire.test')
    .option('--new-connection-per-message', 'connect, send one message, QUIT, for every message')
    .addOption(new Option('--pipelining <mode>', 'PIPELINING: when offered (auto), always, never').choices(['auto', 'on', 'off']).default('auto'))
    .addOption(new Option('--warmup <amount>', 'send this many messages (500) or for this long (2s) first, not counted').argParser(parseAmount))
    .option('--simplified', 'speak the simplified dialect (HELO before each message, one recipient); the standard mode also falls back to HELO by itself')
    .option('--ehlo <name>', 'the name to say in EHLO/HELO (standard mode)', 'localhost')
    .addOption(new Option('--timeout <duration>', 'bound on each wait (connect, each reply)').argParser(parseDuration).default(30_000, '30s'))
    .option('--json', 'print one JSON document on standard output, nothing else')
    .option('--no-progress', 'no progress bar (there is none anyway when the output is not a terminal)')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (flags: BenchFlags) => {
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.once('SIGINT', onSigint);
      process.exitCode = await runBench(flags, {
        stdout: (s) => void process.stdout.write(s),
        stderr: (s) => void process.stderr.write(s),
        interactive: process.stdout.isTTY === true && process.stderr.isTTY === true,
      }, controller.signal);
      process.off('SIGINT', onSigint);
    });
}

export async function runBench(flags: BenchFlags, io: BenchIO, signal?: AbortSignal): Promise<number> {
  let server;
  let message: PreparedMessage;
  let to: string[];
  try {
    try {
      server = parseServerAddress(flags.server, DEFAULT_PORT);
    } catch (e) {
      throw new UsageError(`--server: ${(e as Error).message}`);
    }
    if (flags.messages !== undefined && flags.duration !== undefined) throw new UsageError('--messages and --duration exclude each other');
    if (flags.simplified === true && flags.recipients !== 1) throw new UsageError('--simplified sends to exactly one recipient');
    if (!checkDomain(flags.ehlo).ok) throw new UsageError(`--ehlo ${JSON.stringify(flags.ehlo)} is not a domain name`);
    to = Array.from({ length: flags.recipients }, (_, i) => `rcpt${i + 1}@bench.test`);
    if (flags.messageFile !== undefined) {
      try {
        message = PreparedMessage.from(await readFile(flags.messageFile));
      } catch (e) {
        throw new UsageError(`cannot read --message-file: ${(e as Error).message}`);
      }
    } else message = PreparedMessage.from(benchMessage(flags.size, flags.from, to));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`mailwire bench: ${e.message}\n`);
    return 2;
  }

  const amount: Amount = flags.duration !== undefined ? { durationMs: flags.duration } : { messages: flags.messages ?? 1000 };
  const client: ClientOptions = {
    host: server.host,
    port: server.port,
    mode: flags.simplified === true ? 'simplified' : 'standard',
    clientName: flags.ehlo,
    pipelining: flags.pipelining,
    timeoutMs: flags.timeout,
  };
  const where = hostPort(server.host, server.port);
  const tally = new BenchTally();
  const json = flags.json === true;
  const stopProgress = !json && flags.progress && io.interactive ? startProgress(tally, amount) : () => {};
  let result;
  try {
    result = await runLoad({
      client, from: flags.from, to, message, connections: flags.connections, amount,
      warmup: flags.warmup ?? null, newConnectionPerMessage: flags.newConnectionPerMessage === true,
      ...(signal === undefined ? {} : { signal }),
    }, tally);
  } finally {
    stopProgress();
  }
  const { report } = result;
  const setup = {
    server: where,
    mode: client.mode,
    pipelining: flags.pipelining,
    connections: flags.connections,
    newConnectionPerMessage: flags.newConnectionPerMessage === true,
    messageBytes: message.raw.length,
    recipients: to.length,
    amount,
    warmup: flags.warmup ?? null,
  };
  if (json) io.stdout(`${JSON.stringify({ ...setup, ...report, warmupMessages: result.warmup?.attempted ?? 0 }, null, 2)}\n`);
  else io.stdout(`${formatReport(setup, report).join('\n')}\n`);
  if (report.accepted === 0) return 3;
  return report.failed > 0 ? 1 : 0;
}

/** A progress bar on standard error with the current rate, redrawn a few times a second (never per message). */
function startProgress(tally: BenchTally, amount: Amount): () => void {
  const byCount = 'messages' in amount;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: byCount ? ' {bar} {value}/{total} messages | {rate} msg/s | {errors} errors' : ' {bar} {elapsed}/{seconds} s | {sent} messages | {rate} msg/s | {errors} errors',
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  }, cliProgress.Presets.shades_classic);
  const started = performance.now();
  const total = byCount ? amount.messages : Math.round(amount.durationMs / 1000);
  bar.start(byCount ? total : Math.max(1, total), 0, { rate: '-', errors: 0, seconds: total, elapsed: 0, sent: 0 });
  let lastCount = 0;
  let lastAt = started;
  const timer = setInterval(() => {
    const now = performance.now();
    const count = tally.attempted;
    const rate = ((count - lastCount) * 1000) / Math.max(1, now - lastAt);
    lastCount = count;
    lastAt = now;
    const elapsed = Math.round((now - started) / 1000);
    bar.update(byCount ? count : Math.min(total, elapsed), { rate: rate.toFixed(0), errors: tally.failed, elapsed, sent: count });
  }, 250);
  return () => {
    clearInterval(timer);
    bar.stop();
  };
}

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');

export function formatReport(setup: { server: string; mode?: string; pipelining: string; connections: number; newConnectionPerMessage: boolean; messageBytes: number; recipients: number }, r: BenchReport): string[] {
  const out = [
    `mailwire bench: ${setup.server}, ${setup.connections} connection${setup.connections === 1 ? '' : 's'}` +
      `${setup.newConnectionPerMessage ? ' (a new one per message)' : ''}, ${setup.messageBytes}-octet messages, ` +
      `${setup.recipients} recipient${setup.recipients === 1 ? '' : 's'}, ${setup.mode ?? 'standard'} mode, pipelining ${setup.pipelining}`,
    `${r.accepted}/${r.attempted} messages accepted in ${(r.wallMs / 1000).toFixed(2)} s: ${r.messagesPerSecond.toFixed(0)} messages/s, ` +
      `${(r.bytesPerSecond / 1e6).toFixed(2)} MB/s; ${r.connectionsOpened} connections opened`,
    r.failed === 0 ? 'errors: none' : `errors: ${r.failed} (${Object.entries(r.errors).map(([k, n]) => `${k}: ${n}`).join(', ')})`,
    '',
  ];
  // "message" among the commands is the message text up to its final "." and the reply to it.
  const rows: [string, LatencySummary][] = [['whole message', r.latencyMs.message], ...Object.entries(r.latencyMs.commands).map(([k, s]): [string, LatencySummary] => [k === 'message' ? 'text + "."' : k, s])];
  const width = Math.max(13, ...rows.map(([k]) => k.length));
  out.push(`${'Latency (ms)'.padEnd(width + 2)}  ${'n'.padStart(9)}  ${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('  ')}`);
  for (const [k, s] of rows) out.push(`  ${k.padEnd(width)}  ${String(s.count).padStart(9)}  ${[s.p50, s.p90, s.p99, s.max].map((v) => f2(v).padStart(9)).join('  ')}`);
  if (r.latencyMs.messageBins.length > 0) out.push('', 'Whole-message latency (ms, log scale)', ...histogramLines(r.latencyMs.messageBins));
  return out;
}

const BAR_WIDTH = 40;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** One line a bar: its range, a bar in eighths of a character (scaled to the fullest bar), its count. */
export function histogramLines(bins: readonly LatencyBin[]): string[] {
  const most = Math.max(1, ...bins.map((b) => b.count));
  const from = bins.map((b) => f2(b.fromMs));
  const to = bins.map((b) => f2(b.toMs));
  const wf = Math.max(...from.map((s) => s.length));
  const wt = Math.max(...to.map((s) => s.length));
  return bins.map((b, i) => {
    const eighths = b.count === 0 ? 0 : Math.max(1, Math.round((b.count / most) * BAR_WIDTH * 8));
    const bar = '█'.repeat(Math.floor(eighths / 8)) + (EIGHTHS[eighths % 8] ?? '');
    return `  ${from[i]!.padStart(wf)} – ${to[i]!.padEnd(wt)} │${bar.padEnd(BAR_WIDTH)} ${b.count}`;
  });
}
