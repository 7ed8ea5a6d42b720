/**
 * The IMAP listener and its connection shell: socket ↔ CommandReader ↔ the command table and handlers, over one
 * inbox of the store (src/mailbox/inbox-view.ts). Parsing, fetch rendering and search matching are the pure core's
 * (src/imap/core); this file holds the session's state and does its awaits. Commands run one at a time, in order.
 *
 * Mapping: UID = the store's order of the message; \Seen = the API's read flag (setRead); \Deleted and \Flagged are
 * kept per session only (the store has no place for them yet), \Deleted until EXPUNGE or CLOSE, which take the
 * messages out of the inbox as DELETE /api/v1/inboxes/ADDRESS/messages does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { MailwireEvents } from '../../events.js';
import type { MessageStore } from '../../store/index.js';
import type { PemPair } from '../../net/tls.js';
import { isLoopbackHost } from '../../web/guard.js';
import { isInboxAddress, messagesAfter, removeFromInbox, type InboxMessage } from '../../mailbox/inbox-view.js';
import { CommandReader, type ReaderEvent } from '../core/command-reader.js';
import { parseCommand, type Token } from '../core/tokens.js';
import { allowedIn, isImapCommand, type ImapState } from '../core/commands.js';
import { parseSequenceSet, inSet, type SequenceSet } from '../core/sequence-set.js';
import { needsRaw, parseFetchItems, renderFetch, setsSeen, type FetchItem } from '../core/fetch.js';
import { matches, needsText, parseSearch } from '../core/search.js';

export type ImapServerOptions = Readonly<{
  host: string;
  port: number;
  store: MessageStore;
  events: MailwireEvents | null;
  tls?: PemPair;
  checkPassword?: (user: string, password: string) => boolean | Promise<boolean>;
  maxClients?: number;
  /** RFC 3501 §5.4: at least 30 minutes. */
  idleTimeoutMs?: number;
}>;

export type RunningImapServer = Readonly<{ host: string; port: number; connectionCount(): number; close(): Promise<void> }>;

const LIMITS = { maxLineBytes: 8192, maxLiteralBytes: 64 * 1024, maxCommandBytes: 128 * 1024 };
const PERMANENT = ['\\Seen', '\\Deleted', '\\Flagged'];
const ALL_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
/** UIDVALIDITY: one value for the life of the process's store (see the README's IMAP section). */
const UID_VALIDITY = Math.floor(Date.now() / 1000);

export async function startImapServer(opts: ImapServerOptions): Promise<RunningImapServer> {
  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (sockets.size >= (opts.maxClients ?? 10_000)) {
      socket.end('* BYE [UNAVAILABLE] too many connections, try again later\r\n');
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new ImapConnection(socket, opts, secureContext);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    host: opts.host,
    port: typeof address === 'object' && address !== null ? address.port : opts.port,
    connectionCount: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

type Msg = InboxMessage & { flags: Set<string> };
type Selected = { readOnly: boolean; messages: Msg[]; lastUid: number };

class ImapConnection {
  #socket: Socket;
  readonly #plain: Socket;
  readonly #opts: ImapServerOptions;
  readonly #secure: SecureContext | undefined;
  #reader = new CommandReader(LIMITS);
  #queue: (ReaderEvent | { type: 'refresh' })[] = [];
  #running = false;
  #closed = false;
  #tls = false;
  #state: ImapState = 'not-authenticated';
  #user = '';
  #box: Selected | null = null;
  /** IDLE's tag while idling; the next line must be DONE. */
  #idleTag: string | null = null;
  /** AUTHENTICATE PLAIN waiting for its response line. */
  #saslTag: string | null = null;
  #unsubscribe: (() => void) | null = null;

  constructor(socket: Socket, opts: ImapServerOptions, secure: SecureContext | undefined) {
    this.#socket = socket;
    this.#plain = socket;
    this.#opts = opts;
    this.#secure = secure;
    socket.setTimeout(opts.idleTimeoutMs ?? 30 * 60_000, () => {
      this.#write('* BYE idle too long, closing\r\n');
      this.#close();
    });
    this.#attach(socket);
    this.#write(`* OK [CAPABILITY ${this.#capabilities()}] mailwire IMAP ready\r\n`);
  }

  #loginAllowed(): boolean {
    return this.#tls || isLoopbackHost(this.#plain.localAddress ?? '');
  }

  #capabilities(): string {
    const caps = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'IDLE', 'UNSELECT', 'UIDPLUS', 'NAMESPACE', 'ENABLE'];
    if (this.#secure !== undefined && !this.#tls && this.#state === 'not-authenticated') caps.push('STARTTLS');
    if (this.#state === 'not-authenticated') caps.push(this.#loginAllowed() ? 'AUTH=PLAIN' : 'LOGINDISABLED');
    return caps.join(' ');
  }

  #attach(s: Socket): void {
    s.on('data', (chunk: Buffer) => {
      this.#queue.push(...this.#reader.push(chunk)); // a literal's "+" is answered in order, after what comes before it
      void this.#run();
    });
    s.on('end', () => this.#close());
    s.on('error', () => this.#close());
    s.on('close', () => this.#close());
  }

  #write(data: string | Buffer): void {
    if (!this.#closed && !this.#socket.destroyed) this.#socket.write(data);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    this.#socket.end();
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let guard = 0; guard < 100_000 && !this.#closed; guard++) {
        const e = this.#queue.shift();
        if (e === undefined) break;
        if (e.type === 'continue') this.#write('+ go ahead\r\n');
        else if (e.type === 'refresh') await this.#refresh();
        else if (e.type === 'refused') this.#write(`${e.tag} BAD ${e.reason}\r\n`);
        else await this.#event(e.command.lines, e.command.literals);
      }
    } catch (error) {
      this.#write(`* BYE internal error: ${error instanceof Error ? error.message : String(error)}\r\n`);
      this.#close();
    } finally {
      this.#running = false;
    }
  }

  async #event(lines: readonly string[], literals: readonly Buffer[]): Promise<void> {
    if (this.#idleTag !== null) {
      const tag = this.#idleTag;
      if ((lines[0] ?? '').toUpperCase() !== 'DONE') return this.#write(`${tag} BAD expected DONE to end IDLE\r\n`);
      this.#idleTag = null;
      return this.#write(`${tag} OK IDLE done\r\n`);
    }
    if (this.#saslTag !== null) {
      const tag = this.#saslTag;
      this.#saslTag = null;
      return this.#plainResponse(tag, lines[0] ?? '');
    }
    const parsed = parseCommand({ lines, literals });
    if (!parsed.ok) return this.#write(`${parsed.tag} BAD ${parsed.reason}\r\n`);
    const { tag, name, args } = parsed;
    if (!isImapCommand(name)) return this.#write(`${tag} BAD unknown command ${JSON.stringify(name.slice(0, 30))}\r\n`);
    if (!allowedIn(name, this.#state)) {
      const why = this.#state === 'not-authenticated' ? 'log in first (LOGIN inbox@address password)' : this.#state === 'authenticated' ? 'SELECT INBOX first' : 'not allowed now';
      return this.#write(`${tag} BAD ${name}: ${why}\r\n`);
    }
    const ok = (text: string): void => this.#write(`${tag} OK ${text}\r\n`);
    const no = (text: string): void => this.#write(`${tag} NO ${text}\r\n`);
    const bad = (text: string): void => this.#write(`${tag} BAD ${text}\r\n`);
    const str = (t: Token | undefined): string | null => (t === undefined || t.kind === 'list' ? null : Buffer.from(t.value, 'latin1').toString('utf8'));
    switch (name) {
      case 'CAPABILITY': this.#write(`* CAPABILITY ${this.#capabilities()}\r\n`); return ok('CAPABILITY completed');
      case 'NOOP': case 'CHECK': await this.#refresh(); return ok(`${name} completed`);
      case 'LOGOUT': this.#write('* BYE mailwire logging out\r\n'); ok('LOGOUT completed'); return this.#close();
      case 'ID': this.#write('* ID ("name" "mailwire")\r\n'); return ok('ID completed');
      case 'ENABLE': this.#write('* ENABLED\r\n'); return ok('ENABLE completed (nothing enabled)');
      case 'NAMESPACE': this.#write('* NAMESPACE (("" "/")) NIL NIL\r\n'); return ok('NAMESPACE completed');
      case 'STARTTLS':
        if (this.#tls) return bad('TLS is already on');
        if (this.#secure === undefined) return no('STARTTLS is not offered: the server has no certificate (--tls-cert or --tls-self-signed)');
        ok('begin TLS negotiation now');
        return this.#startTls();
      case 'LOGIN': {
        if (!this.#loginAllowed()) return no('[PRIVACYREQUIRED] LOGIN is refused before STARTTLS off loopback');
        const user = str(args[0]);
        const password = str(args[1]);
        if (user === null || password === null || args.length !== 2) return bad('LOGIN needs a user (an inbox address) and a password');
        return this.#login(tag, user, password);
      }
      case 'AUTHENTICATE': {
        if (!this.#loginAllowed()) return no('[PRIVACYREQUIRED] AUTHENTICATE is refused before STARTTLS off loopback');
        if ((str(args[0]) ?? '').toUpperCase() !== 'PLAIN') return no('only AUTHENTICATE PLAIN is offered');
        const initial = str(args[1]);
        if (initial !== null) return this.#plainResponse(tag, initial === '=' ? '' : initial);
        this.#saslTag = tag;
        return this.#write('+ \r\n');
      }
      case 'LIST': case 'LSUB': {
        const pattern = str(args[1]);
        if (args.length !== 2 || pattern === null) return bad(`${name} needs a reference and a mailbox pattern, e.g. ${name} "" "*"`);
        if (pattern === '') this.#write(`* ${name} (\\Noselect) "/" ""\r\n`);
        else if (/^(\*|%|inbox|INBOX|Inbox|in.*|IN.*)$/i.test(pattern) && 'INBOX'.startsWith(pattern.replace(/[*%]$/, '').toUpperCase())) this.#write(`* ${name} (\\HasNoChildren) "/" INBOX\r\n`);
        return ok(`${name} completed`);
      }
      case 'STATUS': {
        if ((str(args[0]) ?? '').toUpperCase() !== 'INBOX') return no('[NONEXISTENT] there is one mailbox per login: INBOX');
        const items = args[1]?.kind === 'list' ? args[1].items.map((t) => (t.kind === 'atom' ? t.value.toUpperCase() : '')) : null;
        if (items === null) return bad('STATUS needs a list of items, e.g. STATUS INBOX (MESSAGES UNSEEN)');
        const all = await messagesAfter(this.#opts.store, this.#user, 0);
        const last = all[all.length - 1]?.uid ?? 0;
        const values: Record<string, number> = { MESSAGES: all.length, RECENT: 0, UNSEEN: all.filter((m) => !m.read).length, UIDNEXT: last + 1, UIDVALIDITY: UID_VALIDITY };
        const unknown = items.find((i) => values[i] === undefined);
        if (unknown !== undefined) return bad(`unknown STATUS item ${JSON.stringify(unknown)}`);
        this.#write(`* STATUS INBOX (${items.map((i) => `${i} ${values[i] ?? 0}`).join(' ')})\r\n`);
        return ok('STATUS completed');
      }
      case 'SELECT': case 'EXAMINE': {
        if ((str(args[0]) ?? '').toUpperCase() !== 'INBOX') {
          this.#box = null;
          this.#state = 'authenticated';
          return no('[NONEXISTENT] there is one mailbox per login: INBOX');
        }
        const messages = (await messagesAfter(this.#opts.store, this.#user, 0)).map((m) => ({ ...m, flags: new Set(m.read ? ['\\Seen'] : []) }));
        const lastUid = messages[messages.length - 1]?.uid ?? 0;
        this.#box = { readOnly: name === 'EXAMINE', messages, lastUid };
        this.#state = 'selected';
        const unseen = messages.findIndex((m) => !m.flags.has('\\Seen'));
        this.#write(`* FLAGS (${ALL_FLAGS.join(' ')})\r\n* OK [PERMANENTFLAGS (${name === 'EXAMINE' ? '' : PERMANENT.join(' ')})] flags kept\r\n` +
          `* ${messages.length} EXISTS\r\n* 0 RECENT\r\n${unseen === -1 ? '' : `* OK [UNSEEN ${unseen + 1}] first unseen\r\n`}` +
          `* OK [UIDVALIDITY ${UID_VALIDITY}] UIDs valid\r\n* OK [UIDNEXT ${lastUid + 1}] predicted next UID\r\n`);
        this.#listen();
        return ok(`[${name === 'EXAMINE' ? 'READ-ONLY' : 'READ-WRITE'}] ${name} completed`);
      }
      case 'CREATE': case 'DELETE': case 'RENAME': case 'APPEND':
        return no(`[CANNOT] ${name} is not supported: one mailbox per login, INBOX, filled by SMTP`);
      case 'SUBSCRIBE': case 'UNSUBSCRIBE': return ok(`${name} completed`);
      case 'COPY': case 'MOVE': case 'UID COPY': case 'UID MOVE':
        return no('[TRYCREATE] there is one mailbox per login: nowhere to copy or move to');
      case 'IDLE':
        this.#idleTag = tag;
        this.#write('+ idling\r\n');
        this.#listen();
        return this.#refresh();
      case 'CLOSE': case 'UNSELECT': {
        if (name === 'CLOSE' && this.#box !== null && !this.#box.readOnly) await this.#expunge(null, false);
        this.#box = null;
        this.#state = 'authenticated';
        return ok(`${name} completed`);
      }
      case 'EXPUNGE': case 'UID EXPUNGE': {
        if (this.#box?.readOnly === true) return no('[READ-ONLY] the mailbox was opened with EXAMINE');
        let uids: ReturnType<typeof parseSequenceSet> | null = null;
        if (name === 'UID EXPUNGE') {
          uids = parseSequenceSet(str(args[0]) ?? '');
          if (!uids.ok) return bad(uids.reason);
        }
        const failed = await this.#expunge(uids?.ok ? uids.set : null, true);
        return failed === 0 ? ok(`${name} completed`) : no(`${failed} messages could not be removed exactly (another message of the inbox shares their millisecond)`);
      }
      case 'SEARCH': case 'UID SEARCH': return this.#search(tag, name === 'UID SEARCH', args);
      case 'FETCH': case 'UID FETCH': return this.#fetch(tag, name === 'UID FETCH', args);
      case 'STORE': case 'UID STORE': return this.#store(tag, name === 'UID STORE', args);
    }
  }

  async #login(tag: string, name: string, password: string): Promise<void> {
    const address = name.trim().toLowerCase();
    if (!isInboxAddress(address)) return this.#write(`${tag} NO [AUTHENTICATIONFAILED] the user name is an inbox address (an envelope recipient), e.g. qa@example.test\r\n`);
    const ok = this.#opts.checkPassword === undefined ? true : await this.#opts.checkPassword(address, password);
    if (!ok) return this.#write(`${tag} NO [AUTHENTICATIONFAILED] wrong user name or password\r\n`);
    this.#user = address;
    this.#state = 'authenticated';
    this.#write(`${tag} OK [CAPABILITY ${this.#capabilities()}] logged in: INBOX is ${address}'s inbox\r\n`);
  }

  async #plainResponse(tag: string, text: string): Promise<void> {
    if (text === '*') return this.#write(`${tag} BAD AUTHENTICATE cancelled\r\n`);
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0 ? Buffer.from(text, 'base64').toString('utf8').split('\0') : [];
    if (decoded.length !== 3) return this.#write(`${tag} BAD AUTHENTICATE PLAIN wants base64 of authzid NUL user NUL password (RFC 4616)\r\n`);
    const [authz = '', user = '', password = ''] = decoded;
    if (authz !== '' && authz !== user) return this.#write(`${tag} NO [AUTHENTICATIONFAILED] logging in as another user (authzid) is not supported\r\n`);
    return this.#login(tag, user, password);
  }

  /** Announces new mail (EXISTS) to a session with INBOX selected: the store's order, after the last UID shown. */
  async #refresh(): Promise<void> {
    const box = this.#box;
    if (box === null) return;
    const added = await messagesAfter(this.#opts.store, this.#user, box.lastUid);
    if (added.length === 0) return;
    for (const m of added) box.messages.push({ ...m, flags: new Set(m.read ? ['\\Seen'] : []) });
    box.lastUid = added[added.length - 1]?.uid ?? box.lastUid;
    this.#write(`* ${box.messages.length} EXISTS\r\n`);
  }

  /** While INBOX is selected, new mail during IDLE is announced at once. */
  #listen(): void {
    if (this.#unsubscribe !== null || this.#opts.events === null) return;
    this.#unsubscribe = this.#opts.events.on('message-stored', () => {
      if (this.#idleTag === null) return;
      this.#queue.push({ type: 'refresh' });
      void this.#run();
    });
  }

  /** Takes \Deleted messages (narrowed by `uids`) out of the inbox; sends EXPUNGE for each when `announce`. */
  async #expunge(uids: SequenceSet | null, announce: boolean): Promise<number> {
    const box = this.#box;
    if (box === null) return 0;
    const maxUid = box.lastUid;
    const doomed = box.messages.filter((m) => m.flags.has('\\Deleted') && (uids === null || inSet(uids, m.uid, maxUid)));
    if (doomed.length === 0) return 0;
    const failed = new Set(await removeFromInbox(this.#opts.store, this.#opts.events, this.#user, box.messages, doomed));
    const gone = new Set(doomed.filter((m) => !failed.has(m.id)).map((m) => m.uid));
    for (let i = box.messages.length - 1; i >= 0; i--) {
      const m = box.messages[i];
      if (m !== undefined && gone.has(m.uid)) {
        box.messages.splice(i, 1);
        if (announce) this.#write(`* ${i + 1} EXPUNGE\r\n`);
      }
    }
    return failed.size;
  }

  /** The messages a sequence set (or UID set) names, with their sequence numbers. */
  #targets(setText: string | null, byUid: boolean): { seq: number; m: Msg }[] | string {
    const box = this.#box;
    if (box === null) return 'SELECT INBOX first';
    const parsed = parseSequenceSet(setText ?? '');
    if (!parsed.ok) return parsed.reason;
    const max = byUid ? box.lastUid : box.messages.length;
    if (!byUid && box.messages.length === 0) return [];
    const out: { seq: number; m: Msg }[] = [];
    box.messages.forEach((m, i) => {
      if (inSet(parsed.set, byUid ? m.uid : i + 1, max)) out.push({ seq: i + 1, m });
    });
    if (!byUid) {
      for (const r of parsed.set) {
        const hi = Math.max(r.from ?? max, r.to ?? max);
        if (hi > box.messages.length) return `no message ${hi}: the mailbox has ${box.messages.length}`;
      }
    }
    return out;
  }

  async #fetch(tag: string, byUid: boolean, args: readonly Token[]): Promise<void> {
    const set = args[0]?.kind === 'atom' ? args[0].value : null;
    const items = parseFetchItems(args[1]);
    if (!items.ok) return this.#write(`${tag} BAD ${items.reason}\r\n`);
    if (args.length > 2) return this.#write(`${tag} BAD FETCH takes a sequence set and the attributes\r\n`);
    const targets = this.#targets(set, byUid);
    if (typeof targets === 'string') return this.#write(`${tag} BAD ${targets}\r\n`);
    const list: FetchItem[] = items.items;
    const seen = setsSeen(list) && this.#box?.readOnly !== true;
    let missing = 0;
    for (const { seq, m } of targets) {
      const raw = needsRaw(list) ? await this.#opts.store.getRaw(m.id) : null;
      if (needsRaw(list) && raw === null) {
        missing++;
        continue;
      }
      let extra: FetchItem[] = [];
      if (seen && !m.flags.has('\\Seen')) {
        await this.#opts.store.setRead(m.id, true);
        m.flags.add('\\Seen');
        if (!list.some((i) => i.kind === 'FLAGS')) extra = [{ kind: 'FLAGS' }];
      }
      this.#write(renderFetch({ seq, uid: m.uid, size: m.size, flags: [...m.flags], internalDate: new Date(m.summary.receivedAt) }, raw, [...list, ...extra], byUid));
    }
    if (missing > 0) return this.#write(`${tag} NO ${missing} of the messages were deleted meanwhile; the others were sent\r\n`);
    this.#write(`${tag} OK ${byUid ? 'UID FETCH' : 'FETCH'} completed\r\n`);
  }

  async #store(tag: string, byUid: boolean, args: readonly Token[]): Promise<void> {
    if (this.#box?.readOnly === true) return this.#write(`${tag} NO [READ-ONLY] the mailbox was opened with EXAMINE\r\n`);
    const set = args[0]?.kind === 'atom' ? args[0].value : null;
    const what = args[1]?.kind === 'atom' ? args[1].value.toUpperCase() : '';
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(what);
    const flagsArg = args[2];
    const flags = flagsArg === undefined ? null : flagsArg.kind === 'list' ? flagsArg.items.map((t) => (t.kind === 'atom' ? t.value : '')) : flagsArg.kind === 'atom' ? [flagsArg.value] : null;
    if (m === null || flags === null || args.length !== 3) return this.#write(`${tag} BAD STORE needs a set, +FLAGS, -FLAGS or FLAGS (.SILENT), and a flag list\r\n`);
    const canon = new Map(PERMANENT.map((f) => [f.toLowerCase(), f]));
    const wanted = flags.map((f) => canon.get(f.toLowerCase()) ?? f).filter((f) => canon.has(f.toLowerCase()));
    const targets = this.#targets(set, byUid);
    if (typeof targets === 'string') return this.#write(`${tag} BAD ${targets}\r\n`);
    for (const { seq, m: msg } of targets) {
      const before = msg.flags.has('\\Seen');
      const next = m[1] === '+' ? new Set([...msg.flags, ...wanted]) : m[1] === '-' ? new Set([...msg.flags].filter((f) => !wanted.includes(f))) : new Set(wanted);
      msg.flags = next;
      if (next.has('\\Seen') !== before) await this.#opts.store.setRead(msg.id, next.has('\\Seen'));
      if (m[2] === undefined) this.#write(`* ${seq} FETCH (${byUid ? `UID ${msg.uid} ` : ''}FLAGS (${[...next].join(' ')}))\r\n`);
    }
    this.#write(`${tag} OK ${byUid ? 'UID STORE' : 'STORE'} completed\r\n`);
  }

  async #search(tag: string, byUid: boolean, args: readonly Token[]): Promise<void> {
    const box = this.#box;
    if (box === null) return this.#write(`${tag} BAD SELECT INBOX first\r\n`);
    const parsed = parseSearch(args);
    if (!parsed.ok) return this.#write(`${tag} ${parsed.reason.startsWith('[BADCHARSET') ? 'NO' : 'BAD'} ${parsed.reason}\r\n`);
    const text = needsText(parsed.key);
    const hits: number[] = [];
    const names = (list: readonly { name: string; address: string }[]): string => list.map((a) => `${a.name} <${a.address}>`).join(', ');
    for (let i = 0; i < box.messages.length; i++) {
      const m = box.messages[i];
      if (m === undefined) continue;
      const raw = text ? await this.#opts.store.getRaw(m.id) : null;
      const s = m.summary;
      const target = {
        seq: i + 1, uid: m.uid, size: m.size, flags: m.flags, internalDate: new Date(s.receivedAt),
        from: s.from === null ? '' : names([s.from]), to: names(s.to), cc: names(s.cc), subject: s.subject,
        raw: raw === null ? null : raw.toString('latin1'),
      };
      if (matches(parsed.key, target, box.messages.length, box.lastUid)) hits.push(byUid ? m.uid : i + 1);
    }
    this.#write(`* SEARCH${hits.map((h) => ` ${h}`).join('')}\r\n${tag} OK ${byUid ? 'UID SEARCH' : 'SEARCH'} completed\r\n`);
  }

  #startTls(): void {
    const plain = this.#plain;
    const secureContext = this.#secure;
    this.#running = true; // nothing more runs until the handshake is done
    this.#reader = new CommandReader(LIMITS); // RFC 3501 §6.2.1: nothing sent before the handshake counts
    this.#queue = [];
    plain.pause();
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    if (secureContext === undefined) return this.#close();
    plain.write('', () => {
      if (this.#closed) return;
      const secure = new TLSSocket(plain, { isServer: true, secureContext });
      this.#socket = secure;
      this.#attach(secure);
      secure.once('secure', () => {
        this.#tls = true;
        this.#running = false;
        void this.#run();
      });
    });
  }
}
