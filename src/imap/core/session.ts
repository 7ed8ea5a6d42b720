/**
 * The IMAP session (RFC 3501 with LITERAL+, SASL-IR, IDLE, UNSELECT, UIDPLUS, NAMESPACE, ID, ENABLE), pure: bytes and
 * the answers to its requests go in, bytes to send and requests come out; no sockets, no store, no clock.
 *
 * Theory of operation. The bytes go through the CommandReader (./command-reader.ts), which turns them into whole
 * commands whatever the TCP chunking; the commands run one at a time, in order. A command that needs the outside world
 * emits one request action and the session waits (`#wait`, a union saying what the answer is for) until the shell
 * feeds the answer: checking a login ('login' → 'login-ok' / 'login-failed'), reading the inbox's messages after a UID
 * ('load' → 'loaded'), reading one message's bytes ('read' → 'raw'), taking messages out of the inbox ('remove' →
 * 'removed'), starting TLS ('starttls' → 'tls-started'). Flag changes ('flags') are effects the shell carries out
 * in order before it feeds anything else; they need no answer. Commands that arrive while a request is outstanding
 * wait in `#queue`, as do the reader's "+ go ahead" answers to synchronising literals, so replies keep their order.
 *
 * The states are RFC 3501's (`phase`: not-authenticated, authenticated, selected, plus logout), a discriminated union;
 * the selected state holds the session's view of INBOX: its messages in UID order with their flags, and the highest UID
 * shown, which only grows (new mail is announced after it, never below it). Who the login is and what it may see is
 * the shell's (the 'login-ok' answer carries only the text to show); the session names its inbox to nobody.
 */
import { assertNever } from '../../assert-never.js';
import { CommandReader, type ReaderEvent, type ReaderLimits } from './command-reader.js';
import { parseCommand, type Token } from './tokens.js';
import { allowedIn, isImapCommand, type ImapCommandName, type ImapState } from './commands.js';
import { parseSequenceSet, inSet, type SequenceSet } from './sequence-set.js';
import { needsRaw, parseFetchItems, renderFetch, setsSeen, type FetchItem } from './fetch.js';
import { matches, needsText, parseSearch, type SearchKey } from './search.js';

/** One message of INBOX as the shell reads it from the store. */
export type ImapMessage = Readonly<{
  uid: number;
  id: string;
  size: number;
  /** Milliseconds since the epoch: the time the message was received. */
  internalDate: number;
  /** The permanent flags it has: \Seen, \Flagged, \Deleted. */
  flags: readonly string[];
  /** For SEARCH FROM/TO/CC/SUBJECT: the decoded header values. */
  from: string;
  to: string;
  cc: string;
  subject: string;
}>;

export type ImapConfig = Readonly<{
  /** May LOGIN and AUTHENTICATE PLAIN be used before TLS (a loopback connection)? */
  loginAllowedInPlain: boolean;
  /** Can STARTTLS be offered (the server has a certificate)? */
  tlsAvailable: boolean;
  /** The connection is TLS from its first byte (an implicit-TLS port). */
  tls: boolean;
  uidValidity: number;
  limits: ReaderLimits;
}>;

export const DEFAULT_LIMITS: ReaderLimits = { maxLineBytes: 8192, maxLiteralBytes: 64 * 1024, maxCommandBytes: 128 * 1024 };

export type LoginRefusal = 'AUTHENTICATIONFAILED' | 'UNAVAILABLE';

export type Input =
  | Readonly<{ type: 'bytes'; chunk: Buffer }>
  | Readonly<{ type: 'login-ok'; label: string }>
  | Readonly<{ type: 'login-failed'; code: LoginRefusal; reason: string }>
  | Readonly<{ type: 'loaded'; messages: readonly ImapMessage[] }>
  | Readonly<{ type: 'raw'; raw: Buffer | null }>
  | Readonly<{ type: 'removed'; failed: readonly string[] }>
  | Readonly<{ type: 'tls-started' }>
  /** New mail may have arrived in the store (a 'message-stored' event). */
  | Readonly<{ type: 'new-mail' }>
  | Readonly<{ type: 'timeout' }>;

export type Action =
  | Readonly<{ type: 'send'; data: string | Buffer }>
  /** Check this login; feed 'login-ok' or 'login-failed'. The password is the client's, never logged. */
  | Readonly<{ type: 'login'; user: string; password: string }>
  /** The login's messages with a UID above `afterUid`, oldest first; feed 'loaded'. */
  | Readonly<{ type: 'load'; afterUid: number }>
  /** One message's stored bytes; feed 'raw' (null: deleted meanwhile). */
  | Readonly<{ type: 'read'; id: string }>
  /** Keep these permanent flags for the message (an effect: nothing to feed back). */
  | Readonly<{ type: 'flags'; id: string; uid: number; flags: readonly string[]; before: readonly string[] }>
  /** Take these messages out of the login's inbox; `wholeInbox`: they are all it held when last loaded. Feed 'removed'. */
  | Readonly<{ type: 'remove'; ids: readonly string[]; wholeInbox: boolean }>
  /** "OK begin TLS" was sent: start TLS, then feed 'tls-started'. */
  | Readonly<{ type: 'starttls' }>
  /** Tell the session of new mail from now on ('new-mail'); sent once, at the first SELECT or IDLE. */
  | Readonly<{ type: 'watch' }>
  /** A command was read (for metrics and logs): its name, or 'unknown'. Never carries a password. */
  | Readonly<{ type: 'command'; name: string }>
  | Readonly<{ type: 'close' }>;

type Msg = { uid: number; id: string; size: number; internalDate: number; flags: Set<string>; from: string; to: string; cc: string; subject: string };
type Box = { readOnly: boolean; messages: Msg[]; lastUid: number };

export type Phase =
  | Readonly<{ kind: 'not-authenticated' }>
  | Readonly<{ kind: 'authenticated' }>
  | Readonly<{ kind: 'selected'; box: Box }>
  | Readonly<{ kind: 'logout' }>;

type FetchWork = { tag: string; byUid: boolean; items: readonly FetchItem[]; targets: readonly { seq: number; m: Msg }[]; i: number; missing: number; seen: boolean };
type SearchWork = { tag: string; byUid: boolean; key: SearchKey; box: Box; i: number; hits: number[] };

/** What the outstanding request's answer is for. */
type Wait =
  | Readonly<{ kind: 'login'; tag: string }>
  | Readonly<{ kind: 'status'; tag: string; items: readonly string[] }>
  | Readonly<{ kind: 'select'; tag: string; readOnly: boolean; name: string }>
  /** New mail after box.lastUid; `tag`: the command to complete after (null: an IDLE wake-up). */
  | Readonly<{ kind: 'refresh'; tag: string | null; done: string }>
  | Readonly<{ kind: 'fetch'; work: FetchWork }>
  | Readonly<{ kind: 'search'; work: SearchWork }>
  | Readonly<{ kind: 'expunge'; tag: string; done: string; uids: ReadonlySet<number>; announce: boolean; thenClose: boolean }>
  | Readonly<{ kind: 'tls' }>;

const PERMANENT = ['\\Seen', '\\Deleted', '\\Flagged'];
const ALL_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const CANONICAL = new Map(PERMANENT.map((f) => [f.toLowerCase(), f]));

const str = (t: Token | undefined): string | null => (t === undefined || t.kind === 'list' ? null : Buffer.from(t.value, 'latin1').toString('utf8'));
const send = (data: string | Buffer): Action => ({ type: 'send', data });
const tagged = (tag: string, status: 'OK' | 'NO' | 'BAD', text: string): Action => send(`${tag} ${status} ${text}\r\n`);
const toMsg = (m: ImapMessage): Msg => ({ ...m, flags: new Set(m.flags) });
const orderedFlags = (flags: ReadonlySet<string>): string[] => PERMANENT.filter((f) => flags.has(f));

export class ImapSession {
  #phase: Phase = { kind: 'not-authenticated' };
  readonly #cfg: ImapConfig;
  #reader: CommandReader;
  #queue: ReaderEvent[] = [];
  #wait: Wait | null = null;
  #tls: boolean;
  /** IDLE's tag while idling: the next line must be DONE. */
  #idleTag: string | null = null;
  /** AUTHENTICATE PLAIN waiting for its response line. */
  #saslTag: string | null = null;
  #watching = false;
  /** A new-mail signal came while a request was outstanding: refresh once it is answered (if still idling). */
  #refreshWanted = false;

  constructor(cfg: ImapConfig) {
    this.#cfg = cfg;
    this.#tls = cfg.tls;
    this.#reader = new CommandReader(cfg.limits);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Is a request outstanding (the shell owes an answer)? */
  get waiting(): boolean {
    return this.#wait !== null;
  }

  get idling(): boolean {
    return this.#idleTag !== null;
  }

  greet(): Action[] {
    return [send(`* OK [CAPABILITY ${this.#capabilities()}] mailwire IMAP ready\r\n`)];
  }

  feed(input: Input): Action[] {
    if (this.#phase.kind === 'logout') return [];
    const out: Action[] = [];
    switch (input.type) {
      case 'bytes':
        if (this.#wait?.kind === 'tls') return []; // RFC 3501 §6.2.1: nothing sent before the handshake counts
        this.#queue.push(...this.#reader.push(input.chunk));
        break;
      case 'timeout':
        this.#phase = { kind: 'logout' };
        return [send('* BYE idle too long, closing\r\n'), { type: 'close' }];
      case 'new-mail':
        if (this.#idleTag === null || this.#phase.kind !== 'selected') return [];
        if (this.#wait !== null) {
          this.#refreshWanted = true;
          return [];
        }
        out.push(...this.#refresh(null, ''));
        break;
      default:
        out.push(...this.#answer(input));
    }
    this.#drain(out);
    return out;
  }

  /** Runs queued commands while no request is outstanding. */
  #drain(out: Action[]): void {
    for (let guard = 0; guard < 1_000_000 && this.#wait === null && this.#phase.kind !== 'logout'; guard++) {
      if (this.#refreshWanted) {
        this.#refreshWanted = false;
        if (this.#idleTag !== null && this.#phase.kind === 'selected') {
          out.push(...this.#refresh(null, ''));
          continue;
        }
      }
      const e = this.#queue.shift();
      if (e === undefined) return;
      if (e.type === 'continue') out.push(send('+ go ahead\r\n'));
      else if (e.type === 'refused') out.push(tagged(e.tag, 'BAD', e.reason));
      else out.push(...this.#event(e.command.lines, e.command.literals));
    }
  }

  #loginAllowed(): boolean {
    return this.#tls || this.#cfg.loginAllowedInPlain;
  }

  #capabilities(): string {
    const caps = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'IDLE', 'UNSELECT', 'UIDPLUS', 'NAMESPACE', 'ENABLE'];
    const pre = this.#phase.kind === 'not-authenticated';
    if (this.#cfg.tlsAvailable && !this.#tls && pre) caps.push('STARTTLS');
    if (pre) caps.push(this.#loginAllowed() ? 'AUTH=PLAIN' : 'LOGINDISABLED');
    return caps.join(' ');
  }

  #state(): ImapState {
    const k = this.#phase.kind;
    return k === 'logout' ? 'not-authenticated' : k;
  }

  #event(lines: readonly string[], literals: readonly Buffer[]): Action[] {
    if (this.#idleTag !== null) {
      const tag = this.#idleTag;
      if ((lines[0] ?? '').toUpperCase() !== 'DONE') return [tagged(tag, 'BAD', 'expected DONE to end IDLE')];
      this.#idleTag = null;
      return [tagged(tag, 'OK', 'IDLE done')];
    }
    if (this.#saslTag !== null) {
      const tag = this.#saslTag;
      this.#saslTag = null;
      return this.#plainResponse(tag, lines[0] ?? '');
    }
    const parsed = parseCommand({ lines, literals });
    if (!parsed.ok) return [tagged(parsed.tag, 'BAD', parsed.reason)];
    const { tag, name, args } = parsed;
    if (!isImapCommand(name)) return [{ type: 'command', name: 'unknown' }, tagged(tag, 'BAD', `unknown command ${JSON.stringify(name.slice(0, 30))}`)];
    const state = this.#state();
    const seen: Action = { type: 'command', name };
    if (!allowedIn(name, state)) {
      const why = state === 'not-authenticated' ? 'log in first (LOGIN inbox@address password)' : state === 'authenticated' ? 'SELECT INBOX first' : 'not allowed now';
      return [seen, tagged(tag, 'BAD', `${name}: ${why}`)];
    }
    return [seen, ...this.#command(tag, name, args)];
  }

  #command(tag: string, name: ImapCommandName, args: readonly Token[]): Action[] {
    const ok = (text: string): Action[] => [tagged(tag, 'OK', text)];
    const no = (text: string): Action[] => [tagged(tag, 'NO', text)];
    const bad = (text: string): Action[] => [tagged(tag, 'BAD', text)];
    switch (name) {
      case 'CAPABILITY': return [send(`* CAPABILITY ${this.#capabilities()}\r\n`), ...ok('CAPABILITY completed')];
      case 'NOOP': case 'CHECK': return this.#refresh(tag, `${name} completed`);
      case 'LOGOUT':
        this.#phase = { kind: 'logout' };
        return [send('* BYE mailwire logging out\r\n'), ...ok('LOGOUT completed'), { type: 'close' }];
      case 'ID': return [send('* ID ("name" "mailwire")\r\n'), ...ok('ID completed')];
      case 'ENABLE': return [send('* ENABLED\r\n'), ...ok('ENABLE completed (nothing enabled)')];
      case 'NAMESPACE': return [send('* NAMESPACE (("" "/")) NIL NIL\r\n'), ...ok('NAMESPACE completed')];
      case 'STARTTLS':
        if (this.#tls) return bad('TLS is already on');
        if (!this.#cfg.tlsAvailable) return no('STARTTLS is not offered: the server has no certificate (--tls-cert or --tls-self-signed)');
        this.#wait = { kind: 'tls' };
        this.#queue = []; // RFC 3501 §6.2.1: commands pipelined after STARTTLS are not acted on
        this.#reader = new CommandReader(this.#cfg.limits);
        return [...ok('begin TLS negotiation now'), { type: 'starttls' }];
      case 'LOGIN': {
        if (!this.#loginAllowed()) return no('[PRIVACYREQUIRED] LOGIN is refused before STARTTLS off loopback (LOGINDISABLED)');
        const user = str(args[0]);
        const password = str(args[1]);
        if (user === null || password === null || args.length !== 2) return bad('LOGIN needs a user (an inbox address) and a password');
        this.#wait = { kind: 'login', tag };
        return [{ type: 'login', user, password }];
      }
      case 'AUTHENTICATE': {
        if (!this.#loginAllowed()) return no('[PRIVACYREQUIRED] AUTHENTICATE is refused before STARTTLS off loopback (LOGINDISABLED)');
        if ((str(args[0]) ?? '').toUpperCase() !== 'PLAIN') return no('only AUTHENTICATE PLAIN is offered');
        const initial = str(args[1]);
        if (initial !== null) return this.#plainResponse(tag, initial === '=' ? '' : initial);
        this.#saslTag = tag;
        return [send('+ \r\n')];
      }
      case 'LIST': case 'LSUB': {
        const pattern = str(args[1]);
        if (args.length !== 2 || pattern === null) return bad(`${name} needs a reference and a mailbox pattern, e.g. ${name} "" "*"`);
        const out: Action[] = [];
        if (pattern === '') out.push(send(`* ${name} (\\Noselect) "/" ""\r\n`));
        else if (matchesInbox(pattern)) out.push(send(`* ${name} (\\HasNoChildren) "/" INBOX\r\n`));
        return [...out, ...ok(`${name} completed`)];
      }
      case 'STATUS': {
        if ((str(args[0]) ?? '').toUpperCase() !== 'INBOX') return no('[NONEXISTENT] there is one mailbox per login: INBOX');
        const items = args[1]?.kind === 'list' ? args[1].items.map((t) => (t.kind === 'atom' ? t.value.toUpperCase() : '')) : null;
        if (items === null) return bad('STATUS needs a list of items, e.g. STATUS INBOX (MESSAGES UNSEEN)');
        const unknown = items.find((i) => !STATUS_ITEMS.has(i));
        if (unknown !== undefined) return bad(`unknown STATUS item ${JSON.stringify(unknown)}`);
        this.#wait = { kind: 'status', tag, items };
        return [{ type: 'load', afterUid: 0 }];
      }
      case 'SELECT': case 'EXAMINE': {
        if ((str(args[0]) ?? '').toUpperCase() !== 'INBOX') {
          this.#phase = { kind: 'authenticated' };
          return no('[NONEXISTENT] there is one mailbox per login: INBOX');
        }
        this.#wait = { kind: 'select', tag, readOnly: name === 'EXAMINE', name };
        return [{ type: 'load', afterUid: 0 }];
      }
      case 'CREATE': case 'DELETE': case 'RENAME': case 'APPEND':
        return no(`[CANNOT] ${name} is not supported: one mailbox per login, INBOX, filled by SMTP`);
      case 'SUBSCRIBE': case 'UNSUBSCRIBE': return ok(`${name} completed`);
      case 'COPY': case 'MOVE': case 'UID COPY': case 'UID MOVE':
        return no('[TRYCREATE] there is one mailbox per login: nowhere to copy or move to');
      case 'IDLE': {
        this.#idleTag = tag;
        const out: Action[] = [send('+ idling\r\n'), ...this.#watch()];
        if (this.#phase.kind === 'selected') out.push(...this.#refresh(null, ''));
        return out;
      }
      case 'CLOSE': case 'UNSELECT': {
        const p = this.#phase;
        if (name === 'CLOSE' && p.kind === 'selected' && !p.box.readOnly) {
          const started = this.#expunge(tag, 'CLOSE completed', p.box, null, false, true);
          if (started !== null) return started;
        }
        this.#phase = { kind: 'authenticated' };
        return ok(`${name} completed`);
      }
      case 'EXPUNGE': case 'UID EXPUNGE': {
        const p = this.#phase;
        if (p.kind !== 'selected') return bad('SELECT INBOX first');
        if (p.box.readOnly) return no('[READ-ONLY] the mailbox was opened with EXAMINE');
        let uids: SequenceSet | null = null;
        if (name === 'UID EXPUNGE') {
          const parsed = parseSequenceSet(str(args[0]) ?? '');
          if (!parsed.ok) return bad(parsed.reason);
          uids = parsed.set;
        }
        return this.#expunge(tag, `${name} completed`, p.box, uids, true, false) ?? ok(`${name} completed`);
      }
      case 'SEARCH': case 'UID SEARCH': return this.#search(tag, name === 'UID SEARCH', args);
      case 'FETCH': case 'UID FETCH': return this.#fetch(tag, name === 'UID FETCH', args);
      case 'STORE': case 'UID STORE': return this.#store(tag, name === 'UID STORE', args);
      default: return assertNever(name);
    }
  }

  #watch(): Action[] {
    if (this.#watching) return [];
    this.#watching = true;
    return [{ type: 'watch' }];
  }

  #plainResponse(tag: string, text: string): Action[] {
    if (text === '*') return [tagged(tag, 'BAD', 'AUTHENTICATE cancelled')];
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64').toString('utf8').split('\0') : [];
    if (decoded.length !== 3) return [tagged(tag, 'BAD', 'AUTHENTICATE PLAIN wants base64 of authzid NUL user NUL password (RFC 4616)')];
    const [authz = '', user = '', password = ''] = decoded;
    if (authz !== '' && authz !== user) return [tagged(tag, 'NO', '[AUTHENTICATIONFAILED] logging in as another user (authzid) is not supported')];
    this.#wait = { kind: 'login', tag };
    return [{ type: 'login', user, password }];
  }

  /** Loads the messages after the last UID shown; `tag` null: an IDLE wake-up (no tagged reply). */
  #refresh(tag: string | null, done: string): Action[] {
    if (this.#phase.kind !== 'selected') return tag === null ? [] : [tagged(tag, 'OK', done)];
    this.#wait = { kind: 'refresh', tag, done };
    return [{ type: 'load', afterUid: this.#phase.box.lastUid }];
  }

  /** Starts taking \Deleted messages (narrowed by `uids`) out of the inbox; null when there are none. */
  #expunge(tag: string, done: string, box: Box, uids: SequenceSet | null, announce: boolean, thenClose: boolean): Action[] | null {
    const doomed = box.messages.filter((m) => m.flags.has('\\Deleted') && (uids === null || inSet(uids, m.uid, box.lastUid)));
    if (doomed.length === 0) return null;
    this.#wait = { kind: 'expunge', tag, done, uids: new Set(doomed.map((m) => m.uid)), announce, thenClose };
    return [{ type: 'remove', ids: doomed.map((m) => m.id), wholeInbox: doomed.length === box.messages.length }];
  }

  /** The messages a sequence set (or UID set) names, with their sequence numbers. */
  #targets(box: Box, setText: string | null, byUid: boolean): { seq: number; m: Msg }[] | string {
    const parsed = parseSequenceSet(setText ?? '');
    if (!parsed.ok) return parsed.reason;
    const max = byUid ? box.lastUid : box.messages.length;
    if (!byUid && box.messages.length === 0) return [];
    if (!byUid) {
      for (const r of parsed.set) {
        const hi = Math.max(r.from ?? max, r.to ?? max);
        if (hi > box.messages.length) return `no message ${hi}: the mailbox has ${box.messages.length}`;
      }
    }
    const out: { seq: number; m: Msg }[] = [];
    box.messages.forEach((m, i) => {
      if (inSet(parsed.set, byUid ? m.uid : i + 1, max)) out.push({ seq: i + 1, m });
    });
    return out;
  }

  #fetch(tag: string, byUid: boolean, args: readonly Token[]): Action[] {
    const p = this.#phase;
    if (p.kind !== 'selected') return [tagged(tag, 'BAD', 'SELECT INBOX first')];
    const set = args[0]?.kind === 'atom' ? args[0].value : null;
    const items = parseFetchItems(args[1]);
    if (!items.ok) return [tagged(tag, 'BAD', items.reason)];
    if (args.length > 2) return [tagged(tag, 'BAD', 'FETCH takes a sequence set and the attributes')];
    const targets = this.#targets(p.box, set, byUid);
    if (typeof targets === 'string') return [tagged(tag, 'BAD', targets)];
    return this.#fetchOn({ tag, byUid, items: items.items, targets, i: 0, missing: 0, seen: setsSeen(items.items) && !p.box.readOnly }, undefined);
  }

  /** Renders fetch results from `work.i` on; `raw` is the answer for target `work.i` when it needed one. */
  #fetchOn(work: FetchWork, raw: Buffer | null | undefined): Action[] {
    const out: Action[] = [];
    const wantsRaw = needsRaw(work.items);
    for (; work.i < work.targets.length; work.i++) {
      const t = work.targets[work.i];
      if (t === undefined) continue;
      let bytes: Buffer | null = null;
      if (wantsRaw) {
        if (raw === undefined) {
          this.#wait = { kind: 'fetch', work };
          out.push({ type: 'read', id: t.m.id });
          return out;
        }
        bytes = raw;
        raw = undefined;
        if (bytes === null) {
          work.missing++;
          continue;
        }
      }
      let extra: FetchItem[] = [];
      if (work.seen && !t.m.flags.has('\\Seen')) {
        const before = orderedFlags(t.m.flags);
        t.m.flags.add('\\Seen');
        out.push({ type: 'flags', id: t.m.id, uid: t.m.uid, flags: orderedFlags(t.m.flags), before });
        if (!work.items.some((i) => i.kind === 'FLAGS')) extra = [{ kind: 'FLAGS' }];
      }
      out.push(send(renderFetch({ seq: t.seq, uid: t.m.uid, size: t.m.size, flags: orderedFlags(t.m.flags), internalDate: new Date(t.m.internalDate) }, bytes, [...work.items, ...extra], work.byUid)));
    }
    const name = work.byUid ? 'UID FETCH' : 'FETCH';
    if (work.missing > 0) out.push(tagged(work.tag, 'NO', `${work.missing} of the messages were deleted meanwhile; the others were sent`));
    else out.push(tagged(work.tag, 'OK', `${name} completed`));
    return out;
  }

  #store(tag: string, byUid: boolean, args: readonly Token[]): Action[] {
    const p = this.#phase;
    if (p.kind !== 'selected') return [tagged(tag, 'BAD', 'SELECT INBOX first')];
    if (p.box.readOnly) return [tagged(tag, 'NO', '[READ-ONLY] the mailbox was opened with EXAMINE')];
    const set = args[0]?.kind === 'atom' ? args[0].value : null;
    const what = args[1]?.kind === 'atom' ? args[1].value.toUpperCase() : '';
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(what);
    const flagsArg = args[2];
    const flags = flagsArg === undefined ? null : flagsArg.kind === 'list' ? flagsArg.items.map((t) => (t.kind === 'atom' ? t.value : '')) : flagsArg.kind === 'atom' ? [flagsArg.value] : null;
    if (m === null || flags === null || args.length !== 3) return [tagged(tag, 'BAD', 'STORE needs a set, +FLAGS, -FLAGS or FLAGS (.SILENT), and a flag list')];
    const wanted = flags.flatMap((f) => CANONICAL.get(f.toLowerCase()) ?? []);
    const targets = this.#targets(p.box, set, byUid);
    if (typeof targets === 'string') return [tagged(tag, 'BAD', targets)];
    const out: Action[] = [];
    for (const { seq, m: msg } of targets) {
      const before = orderedFlags(msg.flags);
      const next = m[1] === '+' ? new Set([...msg.flags, ...wanted]) : m[1] === '-' ? new Set([...msg.flags].filter((f) => !wanted.includes(f))) : new Set(wanted);
      msg.flags = next;
      const after = orderedFlags(next);
      if (after.join(' ') !== before.join(' ')) out.push({ type: 'flags', id: msg.id, uid: msg.uid, flags: after, before });
      if (m[2] === undefined) out.push(send(`* ${seq} FETCH (${byUid ? `UID ${msg.uid} ` : ''}FLAGS (${after.join(' ')}))\r\n`));
    }
    out.push(tagged(tag, 'OK', `${byUid ? 'UID STORE' : 'STORE'} completed`));
    return out;
  }

  #search(tag: string, byUid: boolean, args: readonly Token[]): Action[] {
    const p = this.#phase;
    if (p.kind !== 'selected') return [tagged(tag, 'BAD', 'SELECT INBOX first')];
    const parsed = parseSearch(args);
    if (!parsed.ok) return [tagged(tag, parsed.reason.startsWith('[BADCHARSET') ? 'NO' : 'BAD', parsed.reason)];
    return this.#searchOn({ tag, byUid, key: parsed.key, box: p.box, i: 0, hits: [] }, undefined);
  }

  #searchOn(work: SearchWork, raw: Buffer | null | undefined): Action[] {
    const box = work.box;
    const text = needsText(work.key);
    for (; work.i < box.messages.length; work.i++) {
      const m = box.messages[work.i];
      if (m === undefined) continue;
      if (text && raw === undefined) {
        this.#wait = { kind: 'search', work };
        return [{ type: 'read', id: m.id }];
      }
      const target = {
        seq: work.i + 1, uid: m.uid, size: m.size, flags: m.flags, internalDate: new Date(m.internalDate),
        from: m.from, to: m.to, cc: m.cc, subject: m.subject, raw: raw === undefined || raw === null ? null : raw.toString('latin1'),
      };
      raw = undefined;
      if (matches(work.key, target, box.messages.length, box.lastUid)) work.hits.push(work.byUid ? m.uid : work.i + 1);
    }
    return [send(`* SEARCH${work.hits.map((h) => ` ${h}`).join('')}\r\n`), tagged(work.tag, 'OK', `${work.byUid ? 'UID SEARCH' : 'SEARCH'} completed`)];
  }

  /** An answer to the outstanding request. */
  #answer(input: Exclude<Input, { type: 'bytes' | 'timeout' | 'new-mail' }>): Action[] {
    const w = this.#wait;
    if (w === null) return misuse(null, input);
    this.#wait = null;
    switch (input.type) {
      case 'login-ok':
        if (w.kind !== 'login') return misuse(w, input);
        this.#phase = { kind: 'authenticated' };
        return [tagged(w.tag, 'OK', `[CAPABILITY ${this.#capabilities()}] logged in: ${input.label}`)];
      case 'login-failed':
        if (w.kind !== 'login') return misuse(w, input);
        return [tagged(w.tag, 'NO', `[${input.code}] ${input.reason}`)];
      case 'tls-started':
        if (w.kind !== 'tls') return misuse(w, input);
        this.#tls = true;
        return [];
      case 'raw':
        if (w.kind === 'fetch') return this.#fetchOn(w.work, input.raw);
        if (w.kind === 'search') return this.#searchOn(w.work, input.raw);
        return misuse(w, input);
      case 'removed': {
        if (w.kind !== 'expunge') return misuse(w, input);
        const p = this.#phase;
        if (p.kind !== 'selected') return misuse(w, input);
        const failed = new Set(input.failed);
        const out: Action[] = [];
        const box = p.box;
        for (let i = box.messages.length - 1; i >= 0; i--) {
          const m = box.messages[i];
          if (m !== undefined && w.uids.has(m.uid) && !failed.has(m.id)) {
            box.messages.splice(i, 1);
            if (w.announce) out.push(send(`* ${i + 1} EXPUNGE\r\n`));
          }
        }
        if (w.thenClose) this.#phase = { kind: 'authenticated' };
        out.push(failed.size === 0 ? tagged(w.tag, 'OK', w.done) : tagged(w.tag, 'NO', `${failed.size} messages could not be removed; the others were`));
        return out;
      }
      case 'loaded':
        return this.#loaded(w, input.messages);
      default:
        return assertNever(input);
    }
  }

  #loaded(w: Wait, messages: readonly ImapMessage[]): Action[] {
    switch (w.kind) {
      case 'status': {
        const last = messages[messages.length - 1]?.uid ?? 0;
        const values: Record<string, number> = {
          MESSAGES: messages.length, RECENT: 0, UNSEEN: messages.filter((m) => !m.flags.includes('\\Seen')).length,
          UIDNEXT: last + 1, UIDVALIDITY: this.#cfg.uidValidity,
        };
        return [send(`* STATUS INBOX (${w.items.map((i) => `${i} ${values[i] ?? 0}`).join(' ')})\r\n`), tagged(w.tag, 'OK', 'STATUS completed')];
      }
      case 'select': {
        const box: Box = { readOnly: w.readOnly, messages: messages.map(toMsg), lastUid: messages[messages.length - 1]?.uid ?? 0 };
        this.#phase = { kind: 'selected', box };
        const unseen = box.messages.findIndex((m) => !m.flags.has('\\Seen'));
        return [
          send(`* FLAGS (${ALL_FLAGS.join(' ')})\r\n* OK [PERMANENTFLAGS (${w.readOnly ? '' : PERMANENT.join(' ')})] flags kept\r\n` +
            `* ${box.messages.length} EXISTS\r\n* 0 RECENT\r\n${unseen === -1 ? '' : `* OK [UNSEEN ${unseen + 1}] first unseen\r\n`}` +
            `* OK [UIDVALIDITY ${this.#cfg.uidValidity}] UIDs valid\r\n* OK [UIDNEXT ${box.lastUid + 1}] predicted next UID\r\n`),
          ...this.#watch(),
          tagged(w.tag, 'OK', `[${w.readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${w.name} completed`),
        ];
      }
      case 'refresh': {
        const out: Action[] = [];
        const p = this.#phase;
        if (p.kind === 'selected') {
          const added = messages.filter((m) => m.uid > p.box.lastUid); // never a UID below one already shown
          for (const m of added) p.box.messages.push(toMsg(m));
          const last = added[added.length - 1];
          if (last !== undefined) {
            p.box.lastUid = last.uid;
            out.push(send(`* ${p.box.messages.length} EXISTS\r\n`));
          }
        }
        if (w.tag !== null) out.push(tagged(w.tag, 'OK', w.done));
        return out;
      }
      default:
        return misuse(w, { type: 'loaded', messages });
    }
  }
}

const STATUS_ITEMS = new Set(['MESSAGES', 'RECENT', 'UNSEEN', 'UIDNEXT', 'UIDVALIDITY']);

/** Does a LIST pattern name INBOX (`*`, `%`, `INBOX`, `IN*`…)? */
function matchesInbox(pattern: string): boolean {
  if (pattern === '*' || pattern === '%') return true;
  const head = pattern.replace(/[*%]$/, '').toUpperCase();
  return pattern.endsWith('*') || pattern.endsWith('%') ? 'INBOX'.startsWith(head) : head === 'INBOX';
}

/** An answer the session did not ask for: the shell's bug, never the peer's. */
function misuse(w: Wait | null, input: Input): never {
  throw new Error(`imap session: ${input.type} while waiting for ${w?.kind ?? 'nothing'}`);
}
