/**
 * `mailwire send`: a swaks-like sender. Flags → a MailSpec (composed by nodemailer) and ClientOptions, then one session
 * per message (connect … QUIT), --repeat times, --concurrency at once. Shows the transcript and the phase timings, or
 * one JSON document. Exit codes tell where it failed (see EXIT and the help text).
 */
import { Option, type Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEFAULT_PORT } from '../config.js';
import { classifyFailure, sendOnce, type ClientOptions, type FailureKind, type SessionOutcome, type TraceEvent } from '../smtp/client/client.js';
import { composeMessage, specProblem, type MailSpec } from '../smtp/client/compose.js';
import { summarizePhases } from '../smtp/client/stats.js';
import { SmtpReplyError, UsageError } from '../errors.js';
import { checkDomain, checkMailbox } from '../smtp/core/mailbox-syntax.js';
import type { AuthMechanism } from '../smtp/core/client-session.js';
import { hostPort, parseServerAddress } from '../net/host-port.js';
import { formatEvent, formatSummary, formatTimings } from './send-output.js';
import { parseDuration, parsePositiveInt } from './parse.js';

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  connection: 3,
  tls: 4,
  auth: 5,
  mail: 6,
  rcpt: 7,
  data: 8,
  refused: 9,
} as const;

const EXIT_BY_KIND: Record<FailureKind, number> = {
  usage: EXIT.usage, connection: EXIT.connection, tls: EXIT.tls, auth: EXIT.auth, mail: EXIT.mail, rcpt: EXIT.rcpt,
  data: EXIT.data, refused: EXIT.refused, unknown: EXIT.unexpected,
};

export const EXIT_CODES_HELP = `
Exit codes:
  0  the message was accepted (every run, with --repeat)
  1  unexpected error
  2  usage error (bad flag, bad address, line break in a header), nothing sent
  3  connection failure (DNS, refused, timeout, closed early, not SMTP)
  4  TLS failure (handshake, certificate not trusted, STARTTLS not offered or refused)
  5  AUTH rejected, or no usable AUTH mechanism offered
  6  rejected at MAIL FROM
  7  rejected at RCPT TO
  8  rejected at DATA or after the message (or BDAT)
  9  other refusal: greeting, EHLO/HELO, or the message needs what the server lacks (SIZE, 8BITMIME, SMTPUTF8, CHUNKING)
With --repeat, the code of the first run that failed.

Examples:
  mailwire send --from a@x.test --to b@y.test --body hi                 # our own server on 127.0.0.1:1025
  mailwire send --server [::1]:2525 --from a@x.test --to b@y.test < msg.txt
  MAILWIRE_SEND_AUTH=user:pass mailwire send --server smtp.example.com:587 --starttls \\
      --from me@example.com --to you@example.org --subject hi --attach report.pdf
  mailwire send --from a@x.test --to b@y.test --repeat 1000 --concurrency 20 --quiet`;

type SendFlags = {
  server?: string;
  from?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  body?: string;
  bodyFile?: string;
  htmlFile?: string;
  attach: string[];
  header: string[];
  ehlo?: string;
  starttls?: boolean;
  tls?: boolean;
  tlsInsecure?: boolean;
  auth?: string;
  authMech?: 'plain' | 'login';
  pipelining: 'auto' | 'on' | 'off';
  chunking?: boolean;
  repeat: number;
  concurrency: number;
  json?: boolean;
  quiet?: boolean;
  simplified?: boolean;
  timeout: number;
  dumpMessage?: string;
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('send one message (or many) over SMTP and show the conversation with per-command round-trip times')
    .option('--server <host[:port]>', `the server; IPv6 as [::1]:2525 (or set MAILWIRE_SEND_SERVER; default: 127.0.0.1:${DEFAULT_PORT})`)
    .option('--from <address>', 'sender (envelope and From:)')
    .option('--to <address>', 'recipient (repeatable)', collect, [])
    .option('--cc <address>', 'Cc recipient (repeatable)', collect, [])
    .option('--bcc <address>', 'Bcc recipient, envelope only (repeatable)', collect, [])
    .option('--subject <text>', 'subject', 'mailwire test message')
    .option('--body <text>', 'the text body (else --body-file, else standard input when it is not a terminal)')
    .option('--body-file <file>', 'read the text body from a file')
    .option('--html-file <file>', 'an HTML body (with a text body, a multipart/alternative message)')
    .option('--attach <file>', 'attach a file (repeatable)', collect, [])
    .option('--header <"Name: value">', 'add a header field (repeatable)', collect, [])
    .option('--ehlo <name>', 'the name to say in EHLO/HELO (default: this host\'s name)')
    .option('--starttls', 'upgrade with STARTTLS after EHLO (RFC 3207)')
    .option('--tls', 'TLS from the first byte (implicit TLS, RFC 8314)')
    .option('--tls-insecure', 'do not verify the server certificate')
    .option('--auth <user:pass>', 'AUTH PLAIN or LOGIN (or set MAILWIRE_SEND_AUTH=user:pass); never shown')
    .addOption(new Option('--auth-mech <mechanism>', 'force an AUTH mechanism').choices(['plain', 'login']))
    .addOption(new Option('--pipelining <mode>', 'PIPELINING: when offered (auto), always, never').choices(['auto', 'on', 'off']).default('auto'))
    .option('--chunking', 'send with BDAT when the server offers CHUNKING (RFC 3030)')
    .option('--repeat <n>', 'send the message n times, one session each', parsePositiveInt, 1)
    .option('--concurrency <c>', 'sessions at once with --repeat', parsePositiveInt, 1)
    .option('--json', 'print one JSON document on standard output (progress and warnings go to standard error)')
    .option('--quiet', 'no transcript: only the timings (and errors, on standard error)')
    .option('--simplified', 'speak the simplified dialect (HELO before each message, one recipient, no extensions)')
    .addOption(new Option('--timeout <duration>', 'bound on each wait (DNS, connect, TLS, each reply)').argParser(parseDuration).default(30_000, '30s'))
    .option('--dump-message <file>', 'also write the composed message to a file')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride((err) => {
      // Commander's own usage errors exit 1; ours say 2 (EX_USAGE-like), so scripts can tell them from failures.
      process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
    })
    .action(async (flags: SendFlags) => {
      process.exitCode = await runSend(flags, {
        env: process.env,
        stdout: (s) => void process.stdout.write(s),
        stderr: (s) => void process.stderr.write(s),
        readStdin: process.stdin.isTTY === true ? null : () => readAll(process.stdin),
      });
    });
}

export type SendIO = Readonly<{
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** null when standard input is a terminal (no body from it). */
  readStdin: (() => Promise<Buffer>) | null;
}>;

type Prepared = { opts: ClientOptions; spec: MailSpec; envelope: { from: string; to: string[] }; where: string };

async function prepare(flags: SendFlags, io: SendIO): Promise<Prepared> {
  if (flags.from === undefined) throw new UsageError('--from is required');
  const recipients = [...flags.to, ...flags.cc, ...flags.bcc];
  if (recipients.length === 0) throw new UsageError('at least one --to, --cc or --bcc is required');
  for (const address of [flags.from, ...recipients]) {
    if (/[\r\n]/.test(address)) throw new UsageError(`the address ${JSON.stringify(address)} holds a line break`);
    const check = checkMailbox(address, { utf8: true });
    if (!check.ok) throw new UsageError(`${JSON.stringify(address)}: ${check.reason}`);
  }
  const headers = flags.header.map((h) => {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header ${JSON.stringify(h)}: write it as 'Name: value'`);
    return { key: h.slice(0, colon).trim(), value: h.slice(colon + 1).trim() };
  });
  if (flags.starttls === true && flags.tls === true) throw new UsageError('--starttls and --tls exclude each other');
  let server;
  try {
    server = parseServerAddress(flags.server ?? nonEmpty(io.env['MAILWIRE_SEND_SERVER']) ?? `127.0.0.1:${DEFAULT_PORT}`, DEFAULT_PORT);
  } catch (e) {
    throw new UsageError(`${flags.server === undefined ? 'MAILWIRE_SEND_SERVER' : '--server'}: ${(e as Error).message}`);
  }
  const authText = flags.auth ?? nonEmpty(io.env['MAILWIRE_SEND_AUTH']) ?? oldAuthVariable(io);
  let auth: ClientOptions['auth'];
  if (authText !== undefined && authText !== '') {
    const colon = authText.indexOf(':');
    if (colon <= 0) throw new UsageError('--auth (or MAILWIRE_SEND_AUTH) must be user:pass');
    auth = {
      user: authText.slice(0, colon),
      pass: authText.slice(colon + 1),
      ...(flags.authMech === undefined ? {} : { mechanism: flags.authMech.toUpperCase() as AuthMechanism }),
    };
  }
  if (flags.simplified === true) {
    if (recipients.length !== 1) throw new UsageError('--simplified sends to exactly one recipient');
    if (flags.starttls === true || flags.tls === true || auth !== undefined || flags.chunking === true) {
      throw new UsageError('--simplified has no TLS, AUTH or CHUNKING');
    }
  }
  const ehlo = flags.ehlo ?? defaultClientName();
  if (/[\r\n]/.test(ehlo) || !checkDomain(ehlo).ok) throw new UsageError(`--ehlo ${JSON.stringify(ehlo)} is not a domain name`);

  let text: string | undefined;
  try {
    if (flags.body !== undefined) text = flags.body;
    else if (flags.bodyFile !== undefined) text = await readFile(flags.bodyFile, 'utf8');
    else if (io.readStdin !== null) text = (await io.readStdin()).toString('utf8');
    else text = 'This is a test message sent by mailwire.\n';
  } catch (e) {
    throw new UsageError(`cannot read the body: ${(e as Error).message}`);
  }
  let html: string | undefined;
  if (flags.htmlFile !== undefined) {
    try {
      html = await readFile(flags.htmlFile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --html-file: ${(e as Error).message}`);
    }
  }
  const spec: MailSpec = {
    from: flags.from, to: flags.to, cc: flags.cc, subject: flags.subject, text,
    ...(html === undefined ? {} : { html }),
    attachments: flags.attach, headers,
  };
  const problem = specProblem(spec);
  if (problem !== null) throw new UsageError(problem);

  const opts: ClientOptions = {
    host: server.host,
    port: server.port,
    mode: flags.simplified === true ? 'simplified' : 'standard',
    tls: flags.tls === true ? 'implicit' : flags.starttls === true ? 'starttls' : 'none',
    tlsOptions: { insecure: flags.tlsInsecure === true },
    clientName: ehlo,
    ...(auth === undefined ? {} : { auth }),
    pipelining: flags.pipelining,
    chunking: flags.chunking === true,
    timeoutMs: flags.timeout,
  };
  return { opts, spec, envelope: { from: flags.from, to: recipients }, where: hostPort(server.host, server.port) };
}

function defaultClientName(): string {
  const name = hostname();
  return checkDomain(name).ok ? name : 'localhost';
}

/**
 * The id the server gave the message in its last reply: "250 2.0.0 OK: queued as 01J…" (mailwire, Postfix), "250 OK
 * id=1uX…" (Exim); null when the reply names none.
 */
export function queuedIdOf(text: string): string | null {
  const m = /\bqueued as ([^\s;,]{1,200})/i.exec(text) ?? /\bid=([^\s;,]{1,200})/i.exec(text);
  return m?.[1] ?? null;
}

const nonEmpty = (v: string | undefined): string | undefined => (v === '' ? undefined : v);

/**
 * MAILWIRE_AUTH is the server's accepted logins; send reads MAILWIRE_SEND_AUTH. The old name still works for send for
 * one release, with a notice.
 */
function oldAuthVariable(io: SendIO): string | undefined {
  const old = nonEmpty(io.env['MAILWIRE_AUTH']);
  if (old !== undefined) io.stderr('mailwire send: MAILWIRE_AUTH is read for send until the next release; set MAILWIRE_SEND_AUTH instead\n');
  return old;
}

export async function runSend(flags: SendFlags, io: SendIO): Promise<number> {
  const json = flags.json === true;
  let prepared: Prepared;
  let raw: Buffer;
  try {
    prepared = await prepare(flags, io);
    raw = await composeMessage(prepared.spec).catch((e: unknown) => {
      throw new UsageError(`cannot compose the message: ${(e as Error).message}`);
    });
    if (flags.dumpMessage !== undefined) await writeFile(flags.dumpMessage, raw);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`mailwire send: ${e.message}\n`);
    if (json) io.stdout(`${JSON.stringify({ ok: false, exitCode: EXIT.usage, error: { name: 'UsageError', message: e.message } }, null, 2)}\n`);
    return EXIT.usage;
  }

  const mail = { from: prepared.envelope.from, to: prepared.envelope.to, raw };
  const stream = !json && flags.quiet !== true;
  const show = (e: TraceEvent): void => {
    for (const line of formatEvent(e)) io.stdout(`${line}\n`);
  };

  const outcomes: SessionOutcome[] = new Array<SessionOutcome>(flags.repeat);
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < flags.repeat; i = next++) {
      const outcome = await sendOnce(prepared.opts, mail, i === 0 && stream ? show : undefined);
      outcomes[i] = outcome;
      if (!outcome.ok && (flags.repeat > 1 || json || !stream)) io.stderr(`mailwire send: run ${i + 1}: ${describeError(outcome.error)}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(flags.concurrency, flags.repeat) }, worker));
  const wallMs = performance.now() - started;

  const firstFailure = outcomes.find((o) => !o.ok);
  const exitCode = firstFailure === undefined || firstFailure.ok ? EXIT.ok : EXIT_BY_KIND[classifyFailure(firstFailure.error)];
  const first = outcomes[0] as SessionOutcome;
  const summary = summarizePhases(outcomes.map((o) => o.timings), outcomes.map((o) => o.totalMs));

  if (json) {
    io.stdout(`${JSON.stringify({
      server: prepared.where,
      mode: prepared.opts.mode,
      ok: exitCode === EXIT.ok,
      exitCode,
      message: { size: raw.length, sha256: createHash('sha256').update(raw).digest('hex') },
      transcript: first.transcript.map(eventJson),
      timings: first.timings,
      totalMs: first.totalMs,
      queuedId: first.ok ? queuedIdOf(first.reply.lines.join(' ')) : null,
      error: firstFailure === undefined || firstFailure.ok ? null : errorJson(firstFailure.error),
      summary: {
        runs: outcomes.length,
        ok: outcomes.filter((o) => o.ok).length,
        failed: outcomes.filter((o) => !o.ok).length,
        concurrency: Math.min(flags.concurrency, flags.repeat),
        wallMs,
        phases: summary,
      },
    }, null, 2)}\n`);
    return exitCode;
  }

  if (!first.ok && stream) io.stdout(`*** ${describeError(first.error)}\n`);
  const out: string[] = [''];
  if (flags.repeat === 1) out.push(...formatTimings(first.timings, first.totalMs));
  else {
    out.push(...formatSummary(summary));
    const okCount = outcomes.filter((o) => o.ok).length;
    out.push(`${okCount}/${outcomes.length} accepted in ${wallMs.toFixed(0)} ms (${((okCount * 1000) / wallMs).toFixed(1)} messages/s, concurrency ${Math.min(flags.concurrency, flags.repeat)})`);
  }
  io.stdout(`${out.join('\n')}\n`);
  return exitCode;
}

function describeError(e: Error): string {
  return `${e.name}: ${e.message}`;
}

function eventJson(e: TraceEvent): Record<string, unknown> {
  switch (e.type) {
    case 'info': return { dir: 'info', text: e.text };
    case 'sent': return { dir: '->', text: e.text };
    case 'received': return { dir: '<-', code: e.reply.code, lines: e.reply.lines, rttMs: e.rttMs };
    default: return e satisfies never;
  }
}

function errorJson(e: Error): Record<string, unknown> {
  return {
    name: e.name,
    code: 'code' in e ? e.code : undefined,
    kind: classifyFailure(e),
    message: e.message,
    ...(e instanceof SmtpReplyError ? { command: e.command, reply: e.reply } : {}),
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
