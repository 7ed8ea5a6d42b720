/**
 * What `mailwire server` says at start beyond where it listens: the dialect and what it means, STARTTLS and AUTH,
 * the fault rules loaded; the flags the simplified dialect cannot honour, refused; start-up failures said as the
 * flag to change instead of Node's text; MAILWIRE_* variables that look like a misspelt flag.
 */
import { describeFaultRule } from '../faults/describe.js';
import type { FaultView } from '../faults/controller.js';
import { ENV_PREFIX } from './env-options.js';

export type DialectName = 'simplified' | 'smtp';

/** The flags that only the smtp dialect can honour, with what the simplified dialect lacks for each. */
const SMTP_ONLY = [
  { key: 'auth', flag: '--auth', lacks: 'AUTH' },
  { key: 'authFile', flag: '--auth-file', lacks: 'AUTH' },
  { key: 'authInsecure', flag: '--auth-insecure', lacks: 'AUTH' },
  { key: 'tlsCert', flag: '--tls-cert', lacks: 'STARTTLS or TLS' },
  { key: 'tlsKey', flag: '--tls-key', lacks: 'STARTTLS or TLS' },
  { key: 'tlsSelfSigned', flag: '--tls-self-signed', lacks: 'STARTTLS or TLS' },
  { key: 'tlsPort', flag: '--tls-port', lacks: 'STARTTLS or TLS' },
] as const;

/** Whether a flag's value asks for something: a list with items, a switch that is on, any other value given. */
const given = (value: unknown): boolean => (Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false);

/**
 * The simplified dialect (the assignment's protocol) has no AUTH and no TLS: a flag asking for either would be
 * silently ignored, so it is refused, naming the flag (or its MAILWIRE_* variable when it came from there).
 */
export function simplifiedRefusal(dialect: DialectName, flags: Readonly<Record<string, unknown>>, sourceOf: (key: string) => string | undefined): string | null {
  if (dialect !== 'simplified') return null;
  for (const { key, flag, lacks } of SMTP_ONLY) {
    if (!given(flags[key])) continue;
    const name = sourceOf(key) === 'env' ? `${ENV_PREFIX}${flag.slice(2).toUpperCase().replaceAll('-', '_')} (${flag})` : flag;
    return `mailwire: ${name} needs --dialect smtp: the simplified dialect has no ${lacks}`;
  }
  return null;
}

/** The start-up line saying which dialect, and what that means to an application pointed at it. */
export function dialectLine(dialect: DialectName): string {
  return dialect === 'simplified'
    ? 'mailwire: simplified dialect: one recipient per message, no EHLO; applications want --dialect smtp'
    : 'mailwire: smtp dialect: RFC 5321 with ESMTP (EHLO, many recipients per message)';
}

export function securityLine(starttls: boolean, logins: number, authInsecure: boolean): string {
  const auth = logins === 0 ? 'AUTH off'
    : `AUTH on (${logins} login${logins === 1 ? '' : 's'}, ${authInsecure ? 'also without TLS' : 'after STARTTLS'})`;
  return `mailwire: STARTTLS ${starttls ? 'on' : 'off'}, ${auth}`;
}

/** The fault rules in force at start, one line each in words. */
export function faultLines(file: string | undefined, view: FaultView): string[] {
  if (view.rules.length === 0) return ['mailwire: no fault rules'];
  const n = view.rules.length;
  return [
    `mailwire: ${n} fault rule${n === 1 ? '' : 's'} from ${file ?? 'the start-up document'} (seed ${view.seed}):`,
    ...view.rules.map((r, i) => `mailwire:   ${i + 1}. ${describeFaultRule(r)}`),
  ];
}

type SystemError = Error & { code?: string; syscall?: string; port?: number; address?: string; path?: string };

/** Where a start-up failure came from, for `explainStartError`. */
export type StartContext = Readonly<{ port: number; tlsPort?: number; httpPort?: number; dataDir?: string }>;

/**
 * A start-up failure said as what to change: "port 1025 is in use (another catcher?); choose --port" rather than
 * "listen EADDRINUSE: address already in use 127.0.0.1:1025". null when the error is not one of these.
 */
export function explainStartError(error: unknown, ctx: StartContext): string | null {
  if (!(error instanceof Error)) return null;
  const e = error as SystemError;
  const listening = e.syscall === 'listen' || e.syscall === 'bind';
  const portFlag = e.port !== undefined && e.port === ctx.httpPort && e.port !== ctx.port ? '--http-port'
    : e.port !== undefined && e.port === ctx.tlsPort && e.port !== ctx.port ? '--tls-port' : '--port';
  if (listening && e.code === 'EADDRINUSE') return `port ${e.port ?? '?'} is in use (another catcher?); choose ${portFlag}`;
  if (listening && e.code === 'EACCES') return `port ${e.port ?? '?'} needs privileges (ports below 1024 do); choose ${portFlag} 1024 or above`;
  if (listening && e.code === 'EADDRNOTAVAIL') {
    return `${e.address ?? 'the address'} is not an address of this machine; choose ${portFlag === '--http-port' ? '--http-host' : '--host'}`;
  }
  if (ctx.dataDir !== undefined) {
    if (e.syscall === 'mkdir' && (e.code === 'EEXIST' || e.code === 'ENOTDIR')) {
      return `--data-dir ${ctx.dataDir} is not a directory (${e.path ?? ctx.dataDir} is a file); choose another --data-dir`;
    }
    if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS') {
      return `--data-dir ${ctx.dataDir}: no permission to write there (${e.code}); choose a directory you own with --data-dir`;
    }
    if (e.code === 'SQLITE_CANTOPEN' || e.code === 'SQLITE_READONLY') {
      return `--data-dir ${ctx.dataDir}: cannot write the database there (${e.code}); choose a directory you own with --data-dir`;
    }
  }
  return null;
}

/** Names used by other commands and by the project's tests, never a misspelt server flag. */
const ELSEWHERE = [/^MAILWIRE_SEND_/, /^MAILWIRE_TEST_/, /^MAILWIRE_BENCH_/, /^MAILWIRE_HTTP_AUTH$/, /^MAILWIRE_URL$/];

/**
 * Edit distance (insert, delete, substitute, swap two neighbours) between two short names, or Infinity once it passes
 * `max`: bounded by the names' lengths, which the caller caps.
 */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return Infinity;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      row.push(d);
    }
    if (Math.min(...row) > max) return Infinity;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] ?? Infinity;
}

/**
 * Warnings for MAILWIRE_* variables that are not one of `known` but close to one (MAILWIRE_DIALCT: did you mean
 * MAILWIRE_DIALECT?). Silent about names used elsewhere and about a user's own names that resemble none.
 */
export function nearMissWarnings(env: Readonly<Record<string, string | undefined>>, known: readonly string[], command: string): string[] {
  const knownSet = new Set(known);
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith(ENV_PREFIX) || knownSet.has(name) || name.length > 80) continue;
    if (ELSEWHERE.some((re) => re.test(name))) continue;
    const tail = name.slice(ENV_PREFIX.length);
    const max = tail.length <= 6 ? 1 : 2;
    let best: { name: string; d: number } | null = null;
    for (const k of known) {
      const d = distance(tail, k.slice(ENV_PREFIX.length), max);
      if (d <= max && (best === null || d < best.d)) best = { name: k, d };
    }
    if (best !== null) out.push(`mailwire: warning: ${name} is not a setting of mailwire ${command}; did you mean ${best.name}?`);
    if (out.length >= 20) break;
  }
  return out;
}
