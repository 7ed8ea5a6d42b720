/**
 * The POP3 session (RFC 1939, CAPA of RFC 2449, STLS of RFC 2595, AUTH PLAIN of RFC 5034), pure: lines and the
 * results of the shell's work go in, replies and actions come out; no sockets, no store, no clock.
 *
 * Theory of operation. The states are RFC 1939's: AUTHORIZATION until a login succeeds, TRANSACTION while the client
 * reads, UPDATE once QUIT has asked for the deletions. Three things need the outside world, and each is an action
 * the shell performs and answers with an input: checking a login and loading the maildrop ('login' → 'logged-in' or
 * 'login-failed'), reading a message's bytes ('fetch' → 'content' or 'content-missing'), and applying the deletions
 * ('update' → 'updated'). While one is outstanding the session is 'waiting', and lines that arrive (pipelining,
 * RFC 2449 §6.6) queue, in order, until the answer comes. The commands and the states they are allowed in are a table
 * (COMMANDS), as Dovecot keeps its commands; a handler per command returns the replies.
 */
import { assertNever } from '../../assert-never.js';
import { dotStuff, topOf } from './dot-stuffing.js';

/** One message of the maildrop, as the login found it: numbered from 1 by its position. */
export type DropMessage = Readonly<{ uid: number; size: number }>;

export type Pop3Config = Readonly<{
  /** Shown in the greeting. */
  serverName: string;
  /** May USER/PASS and AUTH PLAIN be used on this connection now (loopback, or under TLS)? */
  loginAllowed: boolean;
  /** Can STLS be offered (the server has a certificate and the connection is not TLS yet)? */
  tlsAvailable: boolean;
  /** Bad commands before the session is ended. */
  maxErrors: number;
  /** The longest line read whole (RFC 2449 §4 asks for 255 octets for commands; SASL responses are longer). */
  maxLineBytes: number;
}>;

export type Input =
  | Readonly<{ type: 'line'; line: string; overflow: boolean }>
  | Readonly<{ type: 'logged-in'; messages: readonly DropMessage[] }>
  /** AUTH: a wrong user or password; SYS/TEMP: refused unchecked (too many failures from that address, or the store failed). */
  | Readonly<{ type: 'login-failed'; code: 'AUTH' | 'SYS/TEMP'; reason: string }>
  | Readonly<{ type: 'content'; raw: Buffer }>
  | Readonly<{ type: 'content-missing' }>
  | Readonly<{ type: 'updated'; failed: number }>
  | Readonly<{ type: 'tls-started' }>
  | Readonly<{ type: 'timeout' }>;

export type Action =
  /** One status line, "+OK …" or "-ERR …", without its CRLF. */
  | Readonly<{ type: 'reply'; text: string }>
  /** A whole multi-line response: status line, dot-stuffed body and terminator, bytes ready for the wire. */
  | Readonly<{ type: 'send'; bytes: Buffer; octets: number }>
  | Readonly<{ type: 'login'; user: string; password: string }>
  /** Read message `uid`'s stored bytes; feed 'content' or 'content-missing'. */
  | Readonly<{ type: 'fetch'; uid: number }>
  /** Take these messages out of the inbox; feed 'updated'. */
  | Readonly<{ type: 'update'; uids: readonly number[] }>
  /** The reply before it said "+OK Begin TLS": start TLS on the socket, then feed 'tls-started'. */
  | Readonly<{ type: 'starttls' }>
  /** A command was read (for metrics and logs): its verb, or 'unknown'. Never carries a password. */
  | Readonly<{ type: 'command'; verb: string }>
  | Readonly<{ type: 'close' }>;

export type Command =
  | Readonly<{ verb: 'CAPA' | 'QUIT' | 'STAT' | 'NOOP' | 'RSET' | 'STLS' }>
  | Readonly<{ verb: 'USER'; name: string }>
  | Readonly<{ verb: 'PASS'; password: string }>
  | Readonly<{ verb: 'AUTH'; mechanism: string | null; initial: string | null }>
  | Readonly<{ verb: 'LIST' | 'UIDL'; n: number | null }>
  | Readonly<{ verb: 'RETR' | 'DELE'; n: number }>
  | Readonly<{ verb: 'TOP'; n: number; lines: number }>
  | Readonly<{ verb: 'INVALID'; why: string }>;

type Verb = Exclude<Command['verb'], 'INVALID'>;
type StateName = 'authorization' | 'transaction';

/** Each command: the states it is allowed in. The parser and dispatcher read this; nothing else lists commands. */
export const COMMANDS = {
  CAPA: { states: ['authorization', 'transaction'] },
  QUIT: { states: ['authorization', 'transaction'] },
  NOOP: { states: ['transaction'] },
  STLS: { states: ['authorization'] },
  USER: { states: ['authorization'] },
  PASS: { states: ['authorization'] },
  AUTH: { states: ['authorization'] },
  STAT: { states: ['transaction'] },
  LIST: { states: ['transaction'] },
  UIDL: { states: ['transaction'] },
  RETR: { states: ['transaction'] },
  TOP: { states: ['transaction'] },
  DELE: { states: ['transaction'] },
  RSET: { states: ['transaction'] },
} as const satisfies Record<Verb, { states: readonly StateName[] }>;

type Transaction = Readonly<{ kind: 'transaction'; user: string; drop: readonly DropMessage[]; deleted: ReadonlySet<number> }>;

export type Phase =
  | Readonly<{ kind: 'authorization'; user: string | null }>
  /** AUTH PLAIN without an initial response: the next line is the response (or "*"). */
  | Readonly<{ kind: 'sasl' }>
  | Readonly<{ kind: 'authenticating'; user: string }>
  | Transaction
  | Readonly<{ kind: 'fetching'; tx: Transaction; n: number; top: number | null }>
  | Readonly<{ kind: 'updating'; tx: Transaction }>
  | Readonly<{ kind: 'starting-tls' }>
  | Readonly<{ kind: 'closed' }>;

const ok = (text: string): Action => ({ type: 'reply', text: `+OK ${text}` });
const err = (text: string): Action => ({ type: 'reply', text: `-ERR ${text}` });
const multi = (status: string, lines: readonly string[]): Action => {
  const body = Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
  const bytes = Buffer.concat([Buffer.from(`${status}\r\n`, 'latin1'), dotStuff(body)]);
  return { type: 'send', bytes, octets: bytes.length };
};

/** The longest number accepted as a message number or line count (RFC 1939 numbers are decimal, no sign). */
const NUMBER = /^[0-9]{1,9}$/;

export function parseCommand(line: string): Command {
  const space = line.indexOf(' ');
  const word = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  const args = rest === '' ? [] : rest.split(' ');
  if (!Object.hasOwn(COMMANDS, word)) return { verb: 'INVALID', why: word === '' ? 'empty command line' : `unknown command ${JSON.stringify(word.slice(0, 20))}; try CAPA` };
  const verb = word as Verb;
  const num = (text: string | undefined): number | null => (text !== undefined && NUMBER.test(text) ? Number(text) : null);
  switch (verb) {
    case 'CAPA': case 'QUIT': case 'STAT': case 'NOOP': case 'RSET': case 'STLS':
      return args.length === 0 ? { verb } : { verb: 'INVALID', why: `${verb} takes no argument` };
    case 'USER':
      return rest === '' ? { verb: 'INVALID', why: 'USER needs a name: USER inbox@address' } : { verb, name: rest };
    case 'PASS': // the password is the rest of the line, spaces included (RFC 1939 §7)
      return { verb, password: rest };
    case 'AUTH':
      if (args.length > 2) return { verb: 'INVALID', why: 'AUTH takes a mechanism and an optional initial response' };
      return { verb, mechanism: args[0] === undefined ? null : args[0].toUpperCase(), initial: args[1] ?? null };
    case 'LIST': case 'UIDL': {
      if (args.length === 0) return { verb, n: null };
      const n = args.length === 1 ? num(args[0]) : null;
      return n === null ? { verb: 'INVALID', why: `${verb} takes an optional message number` } : { verb, n };
    }
    case 'RETR': case 'DELE': {
      const n = args.length === 1 ? num(args[0]) : null;
      return n === null ? { verb: 'INVALID', why: `${verb} needs a message number, e.g. ${verb} 1` } : { verb, n };
    }
    case 'TOP': {
      const n = num(args[0]);
      const lines = num(args[1]);
      return args.length !== 2 || n === null || lines === null ? { verb: 'INVALID', why: 'TOP needs a message number and a line count, e.g. TOP 1 10' } : { verb, n, lines };
    }
    default:
      return assertNever(verb);
  }
}

type Step = { phase: Phase; actions: Action[] };

export class Pop3Session {
  #phase: Phase = { kind: 'authorization', user: null };
  #errors = 0;
  #queue: Input[] = [];
  #tls = false;
  readonly #cfg: Pop3Config;
  #loginAllowed: boolean;

  constructor(cfg: Pop3Config) {
    this.#cfg = cfg;
    this.#loginAllowed = cfg.loginAllowed;
  }

  get phase(): Phase {
    return this.#phase;
  }

  greet(): Action[] {
    return [ok(`${this.#cfg.serverName} POP3 ready`)];
  }

  feed(input: Input): Action[] {
    if (this.#phase.kind === 'closed') return [];
    // Lines that arrive while the shell is busy for us wait their turn, in order.
    if (input.type === 'line' && isWaiting(this.#phase)) {
      this.#queue.push(input);
      return [];
    }
    const out = this.#step(input);
    while (this.#queue.length > 0 && !isWaiting(this.#phase) && !isClosed(this.#phase)) {
      const next = this.#queue.shift();
      if (next !== undefined) out.push(...this.#step(next));
    }
    return out;
  }

  #step(input: Input): Action[] {
    const r = this.#transition(this.#phase, input);
    this.#phase = r.phase;
    return r.actions;
  }

  #transition(p: Phase, input: Input): Step {
    switch (input.type) {
      case 'timeout':
        return { phase: { kind: 'closed' }, actions: [err('idle too long, closing (no deletions made)'), { type: 'close' }] };
      case 'line':
        if (p.kind === 'sasl') return this.#saslResponse(input.line, input.overflow);
        if (input.overflow) return this.#bad(p, `line too long: a command line here is at most ${this.#cfg.maxLineBytes} octets`);
        return this.#command(p, parseCommand(input.line));
      case 'logged-in':
        if (p.kind !== 'authenticating') return misuse(p, input);
        return { phase: { kind: 'transaction', user: p.user, drop: input.messages, deleted: new Set() },
          actions: [ok(`${p.user} has ${input.messages.length} messages (${sum(input.messages)} octets)`)] };
      case 'login-failed':
        if (p.kind !== 'authenticating') return misuse(p, input);
        this.#errors++;
        return { phase: { kind: 'authorization', user: null }, actions: [err(`[${input.code}] ${input.reason}`)] };
      case 'content': {
        if (p.kind !== 'fetching') return misuse(p, input);
        const body = p.top === null ? input.raw : topOf(input.raw, p.top);
        const status = Buffer.from(`+OK ${p.top === null ? `${input.raw.length} octets` : 'top of message follows'}\r\n`, 'latin1');
        const bytes = Buffer.concat([status, dotStuff(body)]);
        return { phase: p.tx, actions: [{ type: 'send', bytes, octets: body.length }] };
      }
      case 'content-missing':
        if (p.kind !== 'fetching') return misuse(p, input);
        return { phase: p.tx, actions: [err(`message ${p.n} is no longer in the store (deleted meanwhile)`)] };
      case 'updated': {
        if (p.kind !== 'updating') return misuse(p, input);
        const n = p.tx.deleted.size;
        const reply = input.failed === 0 ? ok(`bye, ${n} messages deleted`) : err(`${input.failed} of ${n} deleted messages could not be removed`);
        return { phase: { kind: 'closed' }, actions: [reply, { type: 'close' }] };
      }
      case 'tls-started':
        if (p.kind !== 'starting-tls') return misuse(p, input);
        this.#tls = true;
        this.#loginAllowed = true;
        this.#queue = []; // anything sent before the handshake was plain text: never act on it (RFC 2595 §3.1)
        return { phase: { kind: 'authorization', user: null }, actions: [] };
      default:
        return assertNever(input);
    }
  }

  #bad(p: Phase, why: string): Step {
    this.#errors++;
    if (this.#errors >= this.#cfg.maxErrors) return { phase: { kind: 'closed' }, actions: [err(`${why}; too many errors, closing`), { type: 'close' }] };
    return { phase: p, actions: [err(why)] };
  }

  #capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.#loginAllowed) caps.push('USER', 'SASL PLAIN');
    if (this.#cfg.tlsAvailable && !this.#tls) caps.push('STLS');
    caps.push('IMPLEMENTATION mailwire');
    return caps;
  }

  #command(p: Phase, c: Command): Step {
    const r = this.#run(p, c);
    return { phase: r.phase, actions: [{ type: 'command', verb: c.verb === 'INVALID' ? 'unknown' : c.verb }, ...r.actions] };
  }

  #run(p: Phase, c: Command): Step {
    if (c.verb === 'INVALID') return this.#bad(p, c.why);
    const state: StateName | null = p.kind === 'authorization' ? 'authorization' : p.kind === 'transaction' ? 'transaction' : null;
    if (state === null) return misuse(p, { type: 'line', line: c.verb, overflow: false });
    if (!(COMMANDS[c.verb].states as readonly StateName[]).includes(state)) {
      return this.#bad(p, state === 'authorization' ? `${c.verb} needs a login first: USER inbox@address, then PASS` : `${c.verb} is allowed only before login`);
    }
    if (p.kind === 'authorization') return this.#authorization(p, c);
    if (p.kind === 'transaction') return this.#transaction(p, c);
    return misuse(p, { type: 'line', line: c.verb, overflow: false });
  }

  #authorization(p: Extract<Phase, { kind: 'authorization' }>, c: Exclude<Command, { verb: 'INVALID' }>): Step {
    const loginOff = (): Step => this.#bad(p, '[AUTH] login is refused on this connection before STLS: plain-text passwords only on loopback or under TLS');
    switch (c.verb) {
      case 'CAPA':
        return { phase: p, actions: [multi('+OK capabilities follow', this.#capabilities())] };
      case 'QUIT':
        return { phase: { kind: 'closed' }, actions: [ok('bye'), { type: 'close' }] };
      case 'STLS':
        if (this.#tls) return this.#bad(p, 'TLS is already on');
        if (!this.#cfg.tlsAvailable) return this.#bad(p, 'STLS is not offered: the server has no certificate (--tls-cert or --tls-self-signed)');
        return { phase: { kind: 'starting-tls' }, actions: [ok('begin TLS negotiation'), { type: 'starttls' }] };
      case 'USER':
        if (!this.#loginAllowed) return loginOff();
        return { phase: { kind: 'authorization', user: c.name }, actions: [ok('send PASS')] };
      case 'PASS':
        if (!this.#loginAllowed) return loginOff();
        if (p.user === null) return this.#bad(p, 'PASS needs USER first');
        return { phase: { kind: 'authenticating', user: p.user }, actions: [{ type: 'login', user: p.user, password: c.password }] };
      case 'AUTH':
        if (c.mechanism === null) return { phase: p, actions: [multi('+OK mechanisms follow', this.#loginAllowed ? ['PLAIN'] : [])] };
        if (c.mechanism !== 'PLAIN') return this.#bad(p, `mechanism ${JSON.stringify(c.mechanism.slice(0, 20))} is not offered; use AUTH PLAIN`);
        if (!this.#loginAllowed) return loginOff();
        if (c.initial === null) return { phase: { kind: 'sasl' }, actions: [{ type: 'reply', text: '+ ' }] };
        return this.#saslResponse(c.initial, false);
      default:
        return this.#bad(p, `${c.verb} needs a login first`);
    }
  }

  /** RFC 4616: base64 of authzid NUL authcid NUL password; "*" cancels (RFC 5034 §4). */
  #saslResponse(text: string, overflow: boolean): Step {
    const back: Phase = { kind: 'authorization', user: null };
    if (overflow) return this.#bad(back, '[AUTH] SASL response too long');
    if (text === '*') return this.#bad(back, 'AUTH cancelled');
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64').toString('utf8') : null;
    const parts = decoded?.split('\0');
    if (parts === undefined || parts.length !== 3) return this.#bad(back, '[AUTH] AUTH PLAIN wants base64 of authzid NUL user NUL password (RFC 4616)');
    const [authz = '', user = '', password = ''] = parts;
    if (authz !== '' && authz !== user) return this.#bad(back, '[AUTH] logging in as another user (authzid) is not supported');
    if (user === '') return this.#bad(back, '[AUTH] AUTH PLAIN needs a user name');
    return { phase: { kind: 'authenticating', user }, actions: [{ type: 'login', user, password }] };
  }

  #transaction(p: Transaction, c: Exclude<Command, { verb: 'INVALID' }>): Step {
    const live = (n: number): DropMessage | string => {
      const m = p.drop[n - 1];
      if (m === undefined || n < 1) return `no message ${n}: there ${p.drop.length === 1 ? 'is 1 message' : `are ${p.drop.length} messages`}`;
      if (p.deleted.has(n)) return `message ${n} is deleted`;
      return m;
    };
    const each = (f: (n: number, m: DropMessage) => string): string[] =>
      p.drop.flatMap((m, i) => (p.deleted.has(i + 1) ? [] : [f(i + 1, m)]));
    switch (c.verb) {
      case 'CAPA':
        return { phase: p, actions: [multi('+OK capabilities follow', this.#capabilities())] };
      case 'NOOP':
        return { phase: p, actions: [ok('')] };
      case 'STAT': {
        const kept = p.drop.filter((_, i) => !p.deleted.has(i + 1));
        return { phase: p, actions: [ok(`${kept.length} ${sum(kept)}`)] };
      }
      case 'LIST': case 'UIDL': {
        const show = (n: number, m: DropMessage): string => `${n} ${c.verb === 'LIST' ? m.size : m.uid}`;
        if (c.n === null) return { phase: p, actions: [multi(`+OK ${c.verb === 'LIST' ? 'scan listing' : 'unique ids'} follows`, each(show))] };
        const m = live(c.n);
        return typeof m === 'string' ? this.#bad(p, m) : { phase: p, actions: [ok(show(c.n, m))] };
      }
      case 'RETR': case 'TOP': {
        const m = live(c.n);
        if (typeof m === 'string') return this.#bad(p, m);
        return { phase: { kind: 'fetching', tx: p, n: c.n, top: c.verb === 'TOP' ? c.lines : null }, actions: [{ type: 'fetch', uid: m.uid }] };
      }
      case 'DELE': {
        const m = live(c.n);
        if (typeof m === 'string') return this.#bad(p, m);
        return { phase: { ...p, deleted: new Set([...p.deleted, c.n]) }, actions: [ok(`message ${c.n} deleted (removed from the inbox at QUIT)`)] };
      }
      case 'RSET':
        return { phase: { ...p, deleted: new Set() }, actions: [ok(`${p.drop.length} messages (${sum(p.drop)} octets), none deleted`)] };
      case 'QUIT': {
        if (p.deleted.size === 0) return { phase: { kind: 'closed' }, actions: [ok('bye, no messages deleted'), { type: 'close' }] };
        const uids = [...p.deleted].sort((a, b) => a - b).map((n) => p.drop[n - 1]?.uid ?? 0);
        return { phase: { kind: 'updating', tx: p }, actions: [{ type: 'update', uids }] };
      }
      default:
        return this.#bad(p, `${c.verb} is allowed only before login`);
    }
  }
}

const isWaiting = (p: Phase): boolean =>
  p.kind === 'authenticating' || p.kind === 'fetching' || p.kind === 'updating' || p.kind === 'starting-tls';

const isClosed = (p: Phase): boolean => p.kind === 'closed';

const sum = (ms: readonly DropMessage[]): number => ms.reduce((a, m) => a + m.size, 0);

/** An input the phase does not expect: the shell's bug, never the peer's. */
function misuse(p: Phase, input: Input): never {
  throw new Error(`pop3 session: ${input.type} in phase ${p.kind}`);
}
