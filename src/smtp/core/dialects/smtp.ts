/**
 * The standards dialect (RFC 5321 with ESMTP extensions): what real clients (nodemailer, smtplib, swaks, curl) expect.
 *
 * Theory of operation: `command` reads one line in a DialectPhase and returns the next phase, the replies, and the
 * SessionContext when it changes. Every reply carries its RFC 3463 enhanced status code (RFC 2034) except the greeting
 * and the HELO/EHLO replies, whose first word is our name, and the 354/334 intermediates. Each 5xx to a command counts
 * as an error; at limits.maxErrors the session says 421 and closes (chasquid and smtp-server do the same).
 * Extensions: PIPELINING (the shell answers in order), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * ENHANCEDSTATUSCODES (RFC 2034), CHUNKING (RFC 3030), STARTTLS (RFC 3207), AUTH PLAIN LOGIN (RFC 4954).
 */
import { assertNever } from '../../../assert-never.js';
import { checkMailbox } from '../mailbox-syntax.js';
import { decodeUtf8 } from '../utf8.js';
import type { Command } from '../command.js';
import type { Line } from '../line-splitter.js';
import { escapeControls, reply, type Reply } from '../reply.js';
import { skipChunk, startChunk, startData } from '../session.js';
import type { Dialect, DialectPhase, Envelope, LoginRefusal, MailParams, Phase, SessionConfig, SessionContext, Step } from '../types.js';

const r = (code: number, enhanced: string, text: string): Reply => reply(code, `${enhanced} ${text}`);
/** Client text quoted in a reply (a parameter name, an address): control bytes as `\x1f`, never raw on the wire. */
const quote = escapeControls;

export const SMTP_REPLIES = {
  ok: r(250, '2.0.0', 'OK'),
  senderOk: r(250, '2.1.0', 'Sender OK'),
  recipientOk: r(250, '2.1.5', 'Recipient OK'),
  startData: reply(354, 'End data with <CR><LF>.<CR><LF>'),
  vrfy: r(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery'),
  help: reply(214, '2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH', '2.0.0 See RFC 5321'),
  readyTls: r(220, '2.0.0', 'Ready to start TLS'),
  authOk: r(235, '2.7.0', 'Authentication successful'),
  tooLong: r(500, '5.5.2', 'Line too long'),
  empty: r(500, '5.5.2', 'Empty command'),
  nul: r(500, '5.5.2', 'NUL byte in command'),
  badUtf8: r(500, '5.5.2', 'Command is not valid UTF-8'),
  unknown: r(500, '5.5.2', 'Command unrecognized'),
  noArgs: (verb: string) => r(501, '5.5.4', `Syntax: ${verb}, with no parameters`),
  helloSyntax: (verb: string) => r(501, '5.5.4', `Syntax: ${verb} domain`),
  mailSyntax: r(501, '5.5.4', 'Syntax: MAIL FROM:<address> [parameters]'),
  rcptSyntax: r(501, '5.5.4', 'Syntax: RCPT TO:<address>'),
  bdatSyntax: r(501, '5.5.4', 'Syntax: BDAT size [LAST]'),
  vrfySyntax: r(501, '5.5.4', 'Syntax: VRFY address'),
  authSyntax: r(501, '5.5.4', 'Syntax: AUTH mechanism [initial-response]'),
  badBase64: r(501, '5.5.2', 'Cannot decode the response as base64'),
  authCancelled: r(501, '5.0.0', 'Authentication cancelled'),
  notImplemented: (verb: string) => r(502, '5.5.1', `${verb} not implemented`),
  helloFirst: r(503, '5.5.1', 'Send EHLO or HELO first'),
  nestedMail: r(503, '5.5.1', 'Sender already given; send RSET to start over'),
  needMail: r(503, '5.5.1', 'Need MAIL command first'),
  needRcpt: r(503, '5.5.1', 'Need RCPT command first'),
  dataAfterBdat: r(503, '5.5.1', 'DATA cannot follow BDAT'),
  tlsActive: r(503, '5.5.1', 'TLS already active'),
  notInTransaction: (verb: string) => r(503, '5.5.1', `${verb} not allowed during a mail transaction`),
  alreadyAuthenticated: r(503, '5.5.1', 'Already authenticated'),
  unknownMechanism: r(504, '5.5.4', 'Unrecognized authentication type'),
  tlsFirst: r(530, '5.7.0', 'Must issue a STARTTLS command first'),
  authFailed: r(535, '5.7.8', 'Authentication credentials invalid'),
  tooManyRecipients: r(452, '4.5.3', 'Too many recipients'),
  sizeExceeded: r(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  needSmtputf8: r(553, '5.6.7', 'A non-ASCII address needs the SMTPUTF8 parameter'),
} as const;

/** RFC 4954 §4: the LOGIN mechanism's prompts, base64 of "Username:" and "Password:". */
const LOGIN_USER = reply(334, 'VXNlcm5hbWU6');
const LOGIN_PASSWORD = reply(334, 'UGFzc3dvcmQ6');
const HTTP_VERBS: ReadonlySet<string> = new Set(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH', 'TRACE']);

const answer = (phase: Phase, rep: Reply, ctx?: SessionContext): Step => ({
  phase, actions: [{ type: 'reply', reply: rep }], ...(ctx ? { ctx } : {}),
});

/** A message streamed by BDAT is in the shell's hands: leaving the transaction must drop it. */
const leaving = (phase: DialectPhase, s: Step): Step =>
  phase.kind === 'chunking' ? { ...s, actions: [{ type: 'discard' }, ...s.actions] } : s;

function command(phase: CommandDialectPhase, cmd: Command, cfg: SessionConfig, ctx: SessionContext): Step {
  return countErrors(commandLine(phase, cmd, cfg, ctx), cfg, ctx);
}

function authAnswerLine(phase: Extract<Phase, { kind: 'auth' }>, line: Line, cfg: SessionConfig, ctx: SessionContext): Step {
  return countErrors(authAnswer(phase, line, cfg, ctx), cfg, ctx);
}

/** Each 5xx to a command counts; the maxErrors-th is followed by 421 and a close. */
function countErrors(s: Step, cfg: SessionConfig, ctx: SessionContext): Step {
  const failed = s.actions.some((a) => a.type === 'reply' && a.reply.code >= 500);
  if (!failed || s.phase.kind === 'closed') return s;
  const base = s.ctx ?? ctx;
  const next = { ...base, errors: base.errors + 1 };
  if (next.errors < cfg.limits.maxErrors) return { ...s, ctx: next };
  const held: boolean = s.phase.kind === 'chunking';
  return {
    phase: { kind: 'closed' },
    ctx: next,
    actions: [
      ...(held ? [{ type: 'discard' } as const] : []),
      ...s.actions,
      { type: 'reply', reply: r(421, '4.7.0', `${cfg.serverName} Too many errors, closing connection`) },
      { type: 'close' },
    ],
  };
}

/**
 * A command that moves no mail (NOOP, RSET, VRFY, EXPN, HELP) counts; past limits.maxJunkCommands since the last
 * message stored, the session says 421 and closes, so that a client cannot hold its slot for ever with NOOPs (each of
 * which moves the idle deadline). Mail commands never count: a long session that sends mail is never cut here.
 */
function junk(phase: DialectPhase, s: Step, cfg: SessionConfig, ctx: SessionContext): Step {
  const next = { ...ctx, junk: ctx.junk + 1 };
  const limit = cfg.limits.maxJunkCommands;
  if (limit === 0 || next.junk <= limit) return { ...s, ctx: next };
  return {
    phase: { kind: 'closed' },
    ctx: next,
    actions: [
      ...(phase.kind === 'chunking' ? [{ type: 'discard' } as const] : []),
      { type: 'reply', reply: r(421, '4.7.0', `${cfg.serverName} Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection`) },
      { type: 'close' },
    ],
  };
}

const inTransaction = (phase: DialectPhase): boolean =>
  phase.kind === 'await-rcpt' || phase.kind === 'await-data' || phase.kind === 'chunking';

/** The phases in which a line is a command (in 'auth' it answers a challenge). */
type CommandDialectPhase = Exclude<DialectPhase, { kind: 'auth' }>;

function commandLine(phase: CommandDialectPhase, cmd: Command, cfg: SessionConfig, ctx: SessionContext): Step {
  switch (cmd.verb) {
    case 'INVALID':
      switch (cmd.why) {
        case 'too-long': return answer(phase, SMTP_REPLIES.tooLong); // RFC 5321 §4.5.3.1.4
        case 'empty': return answer(phase, SMTP_REPLIES.empty);
        case 'nul-byte': return answer(phase, SMTP_REPLIES.nul);
        case 'bad-utf8': return answer(phase, SMTP_REPLIES.badUtf8);
        case 'mail-syntax': return answer(phase, SMTP_REPLIES.mailSyntax);
        case 'rcpt-syntax': return answer(phase, SMTP_REPLIES.rcptSyntax);
      }
      break;
    case 'UNKNOWN': {
      // A browser or an HTTP proxy pointed at the SMTP port (cross-protocol attacks): say so once and hang up.
      const word = cmd.said.split(/\s/, 1)[0] ?? '';
      if (phase.kind === 'await-helo' && HTTP_VERBS.has(word)) {
        return { phase: { kind: 'closed' }, actions: [{ type: 'reply', reply: r(421, '4.7.0', `${cfg.serverName} HTTP is not spoken here`) }, { type: 'close' }] };
      }
      return answer(phase, SMTP_REPLIES.unknown);
    }
    case 'HELO':
    case 'EHLO':
      return hello(phase, cmd.verb, cmd.domain, cfg, ctx);
    case 'MAIL':
      return mail(phase, cmd, cfg);
    case 'RCPT':
      return rcpt(phase, cmd, cfg);
    case 'DATA':
      if (cmd.arg !== '') return answer(phase, SMTP_REPLIES.noArgs('DATA'));
      if (phase.kind === 'await-data') return answer(startData(phase.env), SMTP_REPLIES.startData);
      return answer(phase, refusalFor(phase, 'DATA'));
    case 'BDAT':
      return bdat(phase, cmd.arg, cfg, ctx);
    case 'RSET':
      if (cmd.arg !== '') return answer(phase, SMTP_REPLIES.noArgs('RSET'));
      return junk(phase, leaving(phase, answer(phase.kind === 'await-helo' ? phase : { kind: 'await-mail', helo: heloOf(phase) }, SMTP_REPLIES.ok)), cfg, ctx);
    case 'NOOP': // §4.1.1.9: a parameter is allowed and ignored
      return junk(phase, answer(phase, SMTP_REPLIES.ok), cfg, ctx);
    case 'VRFY':
      return junk(phase, answer(phase, cmd.arg === '' ? SMTP_REPLIES.vrfySyntax : SMTP_REPLIES.vrfy), cfg, ctx);
    case 'EXPN':
      return junk(phase, answer(phase, SMTP_REPLIES.notImplemented('EXPN')), cfg, ctx);
    case 'HELP':
      return junk(phase, answer(phase, SMTP_REPLIES.help), cfg, ctx);
    case 'QUIT':
      if (cmd.arg !== '') return answer(phase, SMTP_REPLIES.noArgs('QUIT'));
      return leaving(phase, {
        phase: { kind: 'closed' },
        actions: [{ type: 'reply', reply: r(221, '2.0.0', `${cfg.serverName} closing connection`) }, { type: 'close' }],
      });
    case 'STARTTLS':
      if (cmd.arg !== '') return answer(phase, SMTP_REPLIES.noArgs('STARTTLS'));
      if (cfg.starttls !== true) return answer(phase, SMTP_REPLIES.notImplemented('STARTTLS'));
      if (ctx.tls) return answer(phase, SMTP_REPLIES.tlsActive);
      if (inTransaction(phase)) return answer(phase, SMTP_REPLIES.notInTransaction('STARTTLS'));
      return { phase: { kind: 'starting-tls' }, actions: [{ type: 'reply', reply: SMTP_REPLIES.readyTls }, { type: 'starttls' }] };
    case 'AUTH':
      return auth(phase, cmd.arg, cfg, ctx);
    default:
      return assertNever(cmd);
  }
  return answer(phase, SMTP_REPLIES.unknown);
}

const heloOf = (phase: Exclude<DialectPhase, { kind: 'await-helo' }>): string =>
  phase.kind === 'await-data' || phase.kind === 'chunking' ? phase.env.helo : phase.helo;

function refusalFor(phase: DialectPhase, verb: 'DATA' | 'BDAT'): Reply {
  switch (phase.kind) {
    case 'await-helo': return SMTP_REPLIES.helloFirst;
    case 'await-mail': return SMTP_REPLIES.needMail;
    case 'await-rcpt': return SMTP_REPLIES.needRcpt;
    case 'chunking': return verb === 'DATA' ? SMTP_REPLIES.dataAfterBdat : SMTP_REPLIES.needMail;
    default: return SMTP_REPLIES.needMail;
  }
}

function ehloKeywords(cfg: SessionConfig, ctx: SessionContext): string[] {
  const offerAuth = cfg.auth !== undefined && (ctx.tls || cfg.auth.allowInsecure) && ctx.authUser === null;
  return [
    'PIPELINING',
    `SIZE ${cfg.limits.maxMessageBytes}`,
    '8BITMIME',
    'SMTPUTF8',
    'ENHANCEDSTATUSCODES',
    'CHUNKING',
    ...(cfg.starttls === true && !ctx.tls ? ['STARTTLS'] : []),
    ...(offerAuth ? ['AUTH PLAIN LOGIN'] : []),
  ];
}

function hello(phase: DialectPhase, verb: 'HELO' | 'EHLO', domain: string, cfg: SessionConfig, ctx: SessionContext): Step {
  // §4.1.1.1: one domain or address literal. Names are not checked further (clients send all sorts), but a name that
  // would break the Received: header is refused.
  if (domain === '' || /[\s\x00-\x1f\x7f]/.test(domain)) return answer(phase, SMTP_REPLIES.helloSyntax(verb));
  const greeting = `${cfg.serverName} Hello ${cfg.clientAddress}`;
  const rep = verb === 'HELO' ? reply(250, greeting) : reply(250, greeting, ...ehloKeywords(cfg, ctx));
  // §4.1.4: a hello in the middle of a transaction resets it, as RSET does.
  return leaving(phase, answer({ kind: 'await-mail', helo: domain }, rep, { ...ctx, esmtp: verb === 'EHLO' }));
}

/** RFC 5321 §4.1.2 allows an obsolete source route ("<@a,@b:user@c>"); servers accept it and ignore the route. */
const stripRoute = (path: string): string => (path.startsWith('@') && path.includes(':') ? path.slice(path.indexOf(':') + 1) : path);
const NON_ASCII = /[^\x00-\x7f]/;

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** MAIL parameters (§4.1.2 esmtp-param): SIZE= (RFC 1870), BODY= (RFC 6152), SMTPUTF8 (RFC 6531). */
const NO_PARAMS: Parsed<MailParams & { size?: number }> = { ok: true, value: {} };

function mailParams(text: string): Parsed<MailParams & { size?: number }> {
  if (text === '') return NO_PARAMS;
  const out: { body?: '7BIT' | '8BITMIME'; smtputf8?: true; size?: number } = {};
  const seen = new Set<string>();
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const eq = word.indexOf('=');
    const key = (eq === -1 ? word : word.slice(0, eq)).toUpperCase();
    const value = eq === -1 ? null : word.slice(eq + 1);
    if (seen.has(key)) return { ok: false, reply: r(501, '5.5.4', `Parameter ${quote(key)} given twice`) };
    seen.add(key);
    switch (key) {
      case 'SIZE':
        if (value === null || !/^\d{1,20}$/.test(value)) return { ok: false, reply: r(501, '5.5.4', 'SIZE needs a number of octets') };
        out.size = Number(value);
        break;
      case 'BODY': {
        const body = value?.toUpperCase();
        if (body !== '7BIT' && body !== '8BITMIME') return { ok: false, reply: r(501, '5.5.4', 'BODY must be 7BIT or 8BITMIME') };
        out.body = body;
        break;
      }
      case 'SMTPUTF8':
        if (value !== null) return { ok: false, reply: r(501, '5.5.4', 'SMTPUTF8 takes no value') };
        out.smtputf8 = true;
        break;
      default:
        return { ok: false, reply: r(555, '5.5.4', `Unsupported parameter ${quote(key)}`) };
    }
  }
  return { ok: true, value: out };
}

function mail(phase: DialectPhase, cmd: Extract<Command, { verb: 'MAIL' }>, cfg: SessionConfig): Step {
  if (phase.kind === 'await-helo') return answer(phase, SMTP_REPLIES.helloFirst);
  if (phase.kind !== 'await-mail') return answer(phase, SMTP_REPLIES.nestedMail);
  if (!cmd.bracketed) return answer(phase, r(501, '5.5.4', 'Syntax: MAIL FROM:<address>, with the angle brackets'));
  const params = mailParams(cmd.params);
  if (!params.ok) return answer(phase, params.reply);
  const { size, ...shape } = params.value;
  const from = stripRoute(cmd.path);
  if (from !== '') { // '' is the null reverse path of bounces (§4.5.5)
    if (NON_ASCII.test(from) && shape.smtputf8 !== true) return answer(phase, SMTP_REPLIES.needSmtputf8);
    const check = checkMailbox(from, { utf8: shape.smtputf8 === true });
    if (!check.ok) return answer(phase, r(501, '5.1.7', `Bad sender address: ${quote(check.reason)}`));
  }
  // RFC 1870 §6.1: a declared size over the limit is refused before any message byte is sent.
  if (size !== undefined && size > cfg.limits.maxMessageBytes) return answer(phase, SMTP_REPLIES.sizeExceeded);
  return answer({ kind: 'await-rcpt', helo: phase.helo, from, ...shape }, SMTP_REPLIES.senderOk);
}

function rcpt(phase: DialectPhase, cmd: Extract<Command, { verb: 'RCPT' }>, cfg: SessionConfig): Step {
  if (phase.kind === 'await-helo') return answer(phase, SMTP_REPLIES.helloFirst);
  if (phase.kind === 'await-mail') return answer(phase, SMTP_REPLIES.needMail);
  if (phase.kind === 'chunking' || phase.kind === 'auth') return answer(phase, r(503, '5.5.1', 'RCPT cannot follow BDAT'));
  if (!cmd.bracketed) return answer(phase, r(501, '5.5.4', 'Syntax: RCPT TO:<address>, with the angle brackets'));
  if (cmd.params !== '') {
    const key = (cmd.params.split(/[\s=]/, 1)[0] ?? '').toUpperCase();
    return answer(phase, r(555, '5.5.4', `Unsupported parameter ${quote(key)}`));
  }
  const shape: MailParams = phase.kind === 'await-rcpt' ? phase : phase.env;
  const to = stripRoute(cmd.path);
  // §4.5.1: "postmaster" without a domain must be accepted.
  if (to.toLowerCase() !== 'postmaster') {
    if (to === '') return answer(phase, r(501, '5.1.3', 'Bad recipient address: it is empty'));
    if (NON_ASCII.test(to) && shape.smtputf8 !== true) return answer(phase, SMTP_REPLIES.needSmtputf8);
    const check = checkMailbox(to, { utf8: shape.smtputf8 === true });
    if (!check.ok) return answer(phase, r(501, '5.1.3', `Bad recipient address: ${quote(check.reason)}`));
  }
  const env: Envelope = phase.kind === 'await-rcpt'
    ? { helo: phase.helo, from: phase.from, to: [], ...pick(phase) }
    : phase.env;
  if (env.to.length >= cfg.limits.maxRecipients) return answer(phase, SMTP_REPLIES.tooManyRecipients); // §4.5.3.1.10
  return answer({ kind: 'await-data', env: { ...env, to: [...env.to, to] } }, SMTP_REPLIES.recipientOk);
}

const pick = (p: MailParams): MailParams => ({
  ...(p.body ? { body: p.body } : {}), ...(p.smtputf8 ? { smtputf8: p.smtputf8 } : {}),
});

function bdat(phase: DialectPhase, arg: string, cfg: SessionConfig, ctx: SessionContext): Step {
  const m = /^(\d{1,15})(?:\s+(LAST))?$/i.exec(arg);
  // Without a size we cannot know how many octets follow; they will be read as (bad) commands, bounded by maxErrors.
  if (!m) return answer(phase, SMTP_REPLIES.bdatSyntax);
  const size = Number(m[1]);
  const last = m[2] !== undefined;
  if (phase.kind === 'await-data') return startChunk({ env: phase.env, bytes: 0, overflow: false }, size, last, cfg, ctx);
  if (phase.kind === 'chunking') return startChunk(phase, size, last, cfg, ctx);
  // Out of sequence, but well-formed: swallow the chunk, then refuse it (RFC 3030 §2: never read it as commands).
  return skipChunk(size, refusalFor(phase, 'BDAT'), phase);
}

function auth(phase: DialectPhase, arg: string, cfg: SessionConfig, ctx: SessionContext): Step {
  if (cfg.auth === undefined) return answer(phase, SMTP_REPLIES.notImplemented('AUTH'));
  if (!ctx.tls && !cfg.auth.allowInsecure) return answer(phase, SMTP_REPLIES.tlsFirst);
  if (phase.kind === 'await-helo') return answer(phase, SMTP_REPLIES.helloFirst);
  if (ctx.authUser !== null) return answer(phase, SMTP_REPLIES.alreadyAuthenticated);
  if (phase.kind !== 'await-mail') return answer(phase, SMTP_REPLIES.notInTransaction('AUTH'));
  const [mech = '', initial, extra] = arg.split(/\s+/).filter((w) => w !== '');
  if (mech === '' || extra !== undefined) return answer(phase, SMTP_REPLIES.authSyntax);
  const mechanism = mech.toUpperCase();
  if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') return answer(phase, SMTP_REPLIES.unknownMechanism);
  const waiting: Extract<Phase, { kind: 'auth' }> = { kind: 'auth', helo: phase.helo, mechanism, user: null };
  if (initial === undefined) return answer(waiting, mechanism === 'PLAIN' ? reply(334, '') : LOGIN_USER);
  return authAnswer(waiting, { text: initial, ending: 'crlf', overflow: false }, cfg, ctx);
}

/** RFC 4954 §4: a base64 answer ("=" for an empty one); null when it is not valid base64 of UTF-8. */
function decodeBase64(text: string): string | null {
  if (text === '=') return '';
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return decodeUtf8(Buffer.from(text, 'base64'));
}

function authAnswer(p: Extract<Phase, { kind: 'auth' }>, line: Line, cfg: SessionConfig, ctx: SessionContext): Step {
  const back: Phase = { kind: 'await-mail', helo: p.helo };
  if (line.text === '*') return answer(back, SMTP_REPLIES.authCancelled);
  const decoded = line.overflow ? null : decodeBase64(line.text);
  if (decoded === null) return answer(back, SMTP_REPLIES.badBase64);
  let user: string;
  let password: string;
  if (p.mechanism === 'LOGIN') {
    if (p.user === null) return answer({ ...p, user: decoded }, LOGIN_PASSWORD);
    user = p.user;
    password = decoded;
  } else {
    // RFC 4616: [authzid] NUL authcid NUL passwd; we act only as the user who authenticates.
    const parts = decoded.split('\0');
    if (parts.length !== 3) return answer(back, r(501, '5.5.2', 'PLAIN needs authzid NUL user NUL password'));
    const [authz = '', authc = '', pass = ''] = parts;
    if (authz !== '' && authz !== authc) return answer(back, SMTP_REPLIES.authFailed);
    user = authc;
    password = pass;
  }
  // The shell checks the password (it may take a while: bcrypt, an outside service) and feeds 'verified'.
  return { phase: { kind: 'verifying', helo: p.helo, user }, actions: [{ type: 'verify', user, password }] };
}

function verified(p: Extract<Phase, { kind: 'verifying' }>, outcome: boolean | LoginRefusal, cfg: SessionConfig, ctx: SessionContext): Step {
  const back: Phase = { kind: 'await-mail', helo: p.helo };
  if (outcome === true) return answer(back, SMTP_REPLIES.authOk, { ...ctx, authUser: p.user });
  if (outcome !== false) {
    const when = `try again in ${outcome.retryAfterSeconds} s`;
    // RFC 4954 §6: 454 4.7.0 is the temporary failure; the session goes on.
    if (outcome.refused === 'busy') return answer(back, r(454, '4.7.0', `Temporary authentication failure, ${when}`));
    // Failures are counted per client across connections: a new connection would not help, so say so and close.
    return {
      phase: { kind: 'closed' },
      actions: [{ type: 'reply', reply: r(421, '4.7.0', `${cfg.serverName} Too many failed logins from ${cfg.clientAddress}, ${when}`) }, { type: 'close' }],
    };
  }
  return countErrors(answer(back, SMTP_REPLIES.authFailed), cfg, ctx);
}

/** RFC 3848 / RFC 6531 §4.3: the "with" protocol name: ESMTP, plus S for TLS and A for AUTH. */
function protocolName(env: Envelope, ctx: SessionContext): string {
  const base = env.smtputf8 === true ? 'UTF8SMTP' : ctx.esmtp ? 'ESMTP' : 'SMTP';
  if (base === 'SMTP') return 'SMTP';
  return `${base}${ctx.tls ? 'S' : ''}${ctx.authUser !== null ? 'A' : ''}`;
}

export const smtpDialect: Dialect = {
  name: 'smtp',
  greeting: (cfg) => reply(220, `${cfg.serverName} ESMTP mailwire ready`),
  command,
  authAnswer: authAnswerLine,
  verified,
  // §4.1.4: after a transaction the next MAIL needs no new hello.
  afterMessage: (env) => ({ kind: 'await-mail', helo: env.helo }),
  trace: (env, cfg, ctx) => ({ helo: env.helo, clientAddress: cfg.clientAddress, serverName: cfg.serverName, protocol: protocolName(env, ctx) }),
  replies: {
    stored: (id) => r(250, '2.0.0', `OK: queued as ${id}`),
    storeFailed: r(451, '4.3.0', 'Message not stored; try again later'),
    storeFull: r(452, '4.3.1', 'Insufficient system storage; try again later'),
    tooBig: SMTP_REPLIES.sizeExceeded,
    chunk: (octets) => r(250, '2.0.0', `${octets} octets received`),
    timeout: (cfg) => r(421, '4.4.2', `${cfg.serverName} Idle timeout, closing connection`),
    lifetime: (cfg) => r(421, '4.4.2', `${cfg.serverName} Session time limit reached, closing connection`),
    shutdown: (cfg) => r(421, '4.3.2', `${cfg.serverName} Service shutting down, closing connection`),
  },
};
