/**
 * Property-based fuzzing of the pure session core, both dialects: random command sequences, random bytes (control
 * bytes, CR and LF alone included), random splits of the input into packets. Invariants checked on every step:
 *  - every reply is `ddd[ -]text` CRLF, and its text holds no control byte before formatReply's backstop runs;
 *  - no exception escapes the core; the phase is always one of the declared ones;
 *  - unless the session closed, a well-formed transaction sent after the garbage still ends in a 250 and stores
 *    exactly its message.
 * `npm test` runs a bounded number of cases from a fixed seed; FUZZ_RUNS=100000 (and FUZZ_SEED) run longer ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { simplifiedDialect } from '../../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { LineSplitter } from '../../../src/smtp/core/line-splitter.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { formatReply, type Reply } from '../../../src/smtp/core/reply.js';
import { SmtpSession } from '../../../src/smtp/core/session.js';
import type { Action, Dialect, Phase } from '../../../src/smtp/core/types.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 400);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);

const PHASES: ReadonlySet<Phase['kind']> = new Set<Phase['kind']>([
  'await-helo', 'await-mail', 'await-rcpt', 'await-data', 'in-data', 'chunking', 'in-chunk', 'skip-chunk', 'auth',
  'verifying', 'starting-tls', 'storing', 'closed',
]);
// Small limits, so that over-long lines, too-big messages and too many recipients are reached by short inputs.
const LIMITS = resolveLimits({ maxCommandBytes: 64, maxLineBytes: 40, maxMessageBytes: 300, maxRecipients: 3 });
const CONTROL = /[\x00-\x1f\x7f]/;
const WIRE_REPLY = /^(?:[2-5]\d\d-[^\x00-\x1f\x7f]*\r\n)*[2-5]\d\d [^\x00-\x1f\x7f]*\r\n$/;
const BODY = 'Subject: fuzz\r\n\r\nrecovered\r\n';

/** Plays the shell's part as the server does, checking each reply as it is made. */
class Harness {
  readonly session: SmtpSession;
  splitter = new LineSplitter();
  delivered: string[] = [];
  replies: Reply[] = [];
  draft = '';
  closed = false;
  #dropRest = false;
  /** Whether the next store fails (the garbage may see 451s; the recovery must not). */
  storeFails: () => boolean;

  constructor(dialect: Dialect, storeFails: () => boolean) {
    this.session = new SmtpSession({
      dialect, serverName: '192.0.2.1', clientAddress: '198.51.100.7', limits: LIMITS, starttls: true,
      auth: { allowInsecure: true },
    });
    this.storeFails = storeFails;
    this.apply(this.session.greet());
  }

  apply(actions: readonly Action[]): void {
    assert.ok(PHASES.has(this.session.phase.kind), `undeclared phase ${JSON.stringify(this.session.phase)}`);
    for (const a of actions) {
      switch (a.type) {
        case 'reply': {
          for (const text of a.reply.lines) assert.doesNotMatch(text, CONTROL, `reply text with a control byte: ${JSON.stringify(a.reply)}`);
          assert.match(formatReply(a.reply), WIRE_REPLY);
          this.replies.push(a.reply);
          break;
        }
        case 'data': this.draft += a.bytes; break;
        case 'discard': this.draft = ''; break;
        case 'deliver': {
          const failed = this.storeFails();
          if (!failed) this.delivered.push(this.draft);
          this.draft = '';
          this.apply(this.session.feed(failed ? { type: 'store-failed', reason: 'fuzz' } : { type: 'stored', id: String(this.delivered.length) }));
          break;
        }
        case 'starttls':
          this.splitter = new LineSplitter();
          this.#dropRest = true;
          this.apply(this.session.feed({ type: 'tls-ready' }));
          break;
        case 'verify': {
          const ok = a.user === 'u' && a.password === 'p';
          this.apply(this.session.feed({ type: 'verified', ok }));
          break;
        }
        case 'close': this.closed = true; break;
        default: assert.fail(`unknown action ${JSON.stringify(a)}`);
      }
    }
  }

  /** One packet, as one 'data' event of the socket. */
  packet(bytes: string): void {
    this.#dropRest = false;
    if (this.closed) return;
    this.splitter.push(Buffer.from(bytes, 'latin1'));
    for (let guard = 0; guard < 100_000 && !this.closed && !this.#dropRest; guard++) {
      const wanted = this.session.octetsWanted;
      if (wanted > 0) {
        const octets = this.splitter.take(wanted);
        if (octets === null) return;
        this.apply(this.session.feed({ type: 'octets', bytes: octets }));
        continue;
      }
      const rule = this.session.lineRule;
      const line = rule.mode === 'split' ? this.splitter.nextText(rule.maxBytes) : this.splitter.next(rule.maxBytes, rule.mode);
      if (line === null) return;
      this.apply(this.session.feed({ type: 'line', line }));
    }
    if (!this.closed && !this.#dropRest) assert.fail('a packet was not consumed within 100,000 steps');
  }
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const junkByte = fc.constantFrom('\r', '\n', '\0', '\x1b', '\x7f', '\x1f', '\t', ' ', '.', ':', '<', '>', '@', '=', '\xff', '\xc3', 'a', 'Z', '9');
const junk = fc.array(fc.oneof(junkByte, fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 255 }).map((n) => String.fromCharCode(n))), { maxLength: 12 })
  .map((parts) => parts.join(''));
const address = fc.oneof(fc.constantFrom('a@b.test', '', 'postmaster', '@r:a@b.test', 'x y@z', '"q\\"t"@b.test', 'ü@b.test'), junk.map((j) => `${j}@b.test`));
const control = fc.integer({ min: 0, max: 0x20 }).map((n) => (n === 0x20 ? '\x7f' : String.fromCharCode(n)));
const commandLine = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('HELO c.test', 'EHLO c.test', 'DATA', 'RSET', 'NOOP', 'HELP', 'VRFY x', 'EXPN x', 'STARTTLS', 'QUIT', '.', '',
    'AUTH PLAIN', 'AUTH LOGIN', `AUTH PLAIN ${b64('\0u\0p')}`, `AUTH PLAIN ${b64('\0u\0wrong')}`, '*', b64('u'), 'GET / HTTP/1.1', 'mail from:<a@b.test>') },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('HELO', 'EHLO', 'MAIL FROM:', 'RCPT TO:', 'MAIL FROM: ', 'RCPT TO:', 'VRFY', 'BDAT', 'AUTH'), junk).map(([v, j]) => `${v} ${j}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('MAIL FROM:', 'RCPT TO:'), address, fc.constantFrom('', ' SIZE=10', ' BODY=8BITMIME', ' SMTPUTF8', ' SIZE=99999', ' X=1', ' SIZE=1 SIZE=2'), junk)
    .map(([v, a, p, j]) => `${v}<${a}>${p}${j === '' ? '' : ` ${j}`}`) },
  // Client text that replies quote (a parameter name, a local part, a domain) with a control byte in it.
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('MAIL FROM:<a@b.test> X', 'RCPT TO:<b@c.test> X', 'MAIL FROM:<a', 'RCPT TO:<b@c', 'MAIL FROM:<a@b.test> SIZE=1 '), control, fc.constantFrom('=1', '@d.test>', '.test>', 'Y'))
    .map(([head, c, tail]) => `${head}${c}${tail}`) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean()).map(([n, last]) => `BDAT ${n}${last ? ' LAST' : ''}`) },
  { weight: 2, arbitrary: junk },
);
const ending = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '');
const garbage = fc.array(fc.tuple(commandLine, ending).map(([l, e]) => l + e), { maxLength: 25 }).map((ls) => ls.join(''));
/** The garbage cut into packets at random offsets. */
const packets = fc.tuple(garbage, fc.array(fc.nat(), { maxLength: 6 })).map(([g, cuts]) => {
  const at = [...new Set(cuts.map((c) => (g.length === 0 ? 0 : c % g.length)))].sort((x, y) => x - y);
  const out: string[] = [];
  let from = 0;
  for (const c of at) {
    out.push(g.slice(from, c));
    from = c;
  }
  out.push(g.slice(from));
  return out;
});

/**
 * The client side of recovering: end the line the garbage left unfinished, then whatever it left open (a BDAT chunk's
 * octets, DATA with ".", an AUTH exchange with "*"). False when the garbage's own last command closed the session.
 */
function settle(h: Harness): boolean {
  let first = true;
  for (let round = 0; round < 5 && !h.closed; round++) {
    const p = h.session.phase;
    if (p.kind === 'in-chunk' || p.kind === 'skip-chunk') h.packet('x'.repeat(p.remaining));
    else if (p.kind === 'in-data') h.packet('\r\n.\r\n');
    else if (p.kind === 'auth') h.packet('\r\n*\r\n');
    else if (first) h.packet('\r\n');
    else return true;
    first = false;
  }
  return !h.closed && !['in-chunk', 'skip-chunk', 'in-data', 'auth'].includes(h.session.phase.kind);
}

/** One well-formed transaction. */
function transaction(h: Harness, dialect: Dialect): void {
  if (dialect === smtpDialect) {
    h.packet(`RSET\r\nEHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<b@c.test>\r\nDATA\r\n${BODY}.\r\n`);
    return;
  }
  // The simplified dialect has no RSET: it waits for the one command of its phase, so the transaction starts there.
  const steps = ['HELO c.test', 'MAIL FROM:<a@b.test>', 'RCPT TO:<b@c.test>', 'DATA'];
  const from = ({ 'await-mail': 1, 'await-rcpt': 2, 'await-data': 3 } as Record<string, number>)[h.session.phase.kind] ?? 0;
  h.packet(`${steps.slice(from).map((s) => `${s}\r\n`).join('')}${BODY}.\r\n`);
}

for (const dialect of [simplifiedDialect, smtpDialect]) {
  describe(`fuzzing the pure core: ${dialect.name} dialect`, () => {
    it(`${RUNS} random sessions keep every invariant (seed ${SEED})`, (t) => {
      let recovered = 0; // runs that reached the recovery transaction (the others ended early or were skipped)
      fc.assert(
        fc.property(packets, fc.array(fc.boolean(), { maxLength: 8 }), (input, failures) => {
          let n = 0;
          const h = new Harness(dialect, () => failures[n++ % Math.max(failures.length, 1)] === true);
          for (const packet of input) h.packet(packet);
          if (h.closed) return;
          // Stay clear of the error limit: the recovery itself may cost one or two 5xx.
          fc.pre(h.session.context.errors < LIMITS.maxErrors - 3);
          h.storeFails = () => false;
          const before = h.delivered.length;
          if (!settle(h)) return; // the garbage ended in a QUIT (or an error too many) that the line end completed
          recovered++;
          transaction(h, dialect);
          assert.equal(h.closed, false, 'the recovery closed the session');
          const last = h.replies.at(-1);
          assert.equal(last?.code, 250, `last reply ${JSON.stringify(last)}`);
          assert.equal(h.delivered.length > before, true, 'nothing was stored');
          assert.equal(h.delivered.at(-1), BODY);
        }),
        { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
      );
      t.diagnostic(`${recovered} of ${RUNS} runs reached the recovery transaction`);
      assert.ok(recovered >= RUNS / 2, `only ${recovered} of ${RUNS} runs reached the recovery transaction`);
    });
  });
}
