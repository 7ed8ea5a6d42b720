/**
 * Where the rule engine meets the protocol core, as pure functions the server shell calls.
 *
 * Theory of operation: the shell asks the core what a command line would do (`session.consider`) without committing
 * it. When the core would accept the command (HELO/EHLO, MAIL, RCPT, DATA or the first BDAT, AUTH, STARTTLS: a 2xx or
 * 3xx, or a BDAT chunk starting), that is a fault event. The verdict then picks the step to commit: the core's own
 * (pass), or one that leaves the core exactly where the failure reply implies (`faultStep`): an injected 451 at MAIL
 * commits the phase as it was before the MAIL (no transaction), a refused RCPT adds no recipient, a refused BDAT has
 * its octets read and dropped by the core (never taken as commands). A command the core itself refuses is no event:
 * a fault stands in for a success. At the end of a message the core has asked to store it ('deliver'); a refusal
 * there feeds the core the outcome the failure implies, 'store-failed' (nothing stored), with the injected reply in
 * place of the dialect's.
 */
import { assertNever } from '../assert-never.js';
import type { Command } from '../smtp/core/command.js';
import type { Reply } from '../smtp/core/reply.js';
import { skipChunk } from '../smtp/core/session.js';
import type { Action, Phase, Step } from '../smtp/core/types.js';
import type { FaultStage } from './document.js';
import type { FaultEvent, FaultOutcome } from './engine.js';

/** What the shell knows about the session beside the phases. */
export type EventBase = Readonly<{ client: string; user: string | null }>;

const heloOf = (p: Phase): string | undefined => {
  switch (p.kind) {
    case 'await-mail': case 'await-rcpt': case 'auth': return p.helo;
    case 'await-data': case 'chunking': case 'in-data': case 'in-chunk': case 'storing': return p.env.helo;
    default: return undefined;
  }
};

const accepted = (step: Step): boolean => {
  const first = step.actions.find((a) => a.type === 'reply');
  return first === undefined || (first.type === 'reply' && first.reply.code < 400);
};

/**
 * The fault event of a command, or null when it is none: `command` is the typed Command the core read the line as
 * (SmtpSession.considerLine), `before` the phase it was read in, `step` what the core would do with it.
 */
export function commandEvent(command: Command, before: Phase, step: Step, base: EventBase): FaultEvent | null {
  if (!accepted(step)) return null;
  const after = step.phase;
  const event = (on: FaultStage, fields: Omit<FaultEvent, 'on' | 'client'>): FaultEvent => {
    const helo = fields.helo ?? heloOf(before);
    return {
      on, client: base.client, ...fields,
      ...(helo === undefined ? {} : { helo }), ...(base.user === null ? {} : { user: base.user }),
    };
  };
  switch (command.verb) {
    case 'HELO':
    case 'EHLO':
      return after.kind === 'await-mail' ? event('helo', { helo: after.helo }) : null;
    case 'MAIL':
      return after.kind === 'await-rcpt' ? event('mail', { helo: after.helo, from: after.from }) : null;
    case 'RCPT': {
      if (after.kind !== 'await-data') return null;
      const to = after.env.to[after.env.to.length - 1];
      return to === undefined ? null : event('rcpt', { from: after.env.from, to: [to] });
    }
    case 'DATA':
      return after.kind === 'in-data' ? event('data', { from: after.env.from, to: after.env.to }) : null;
    case 'BDAT': // the first chunk of a transaction is its "data" (the later ones are not events)
      if (before.kind !== 'await-data') return null;
      return event('data', { from: before.env.from, to: before.env.to });
    case 'AUTH':
      return before.kind === 'await-mail' ? event('auth', {}) : null;
    case 'STARTTLS':
      return after.kind === 'starting-tls' ? event('starttls', {}) : null;
    case 'RSET': case 'NOOP': case 'QUIT': case 'VRFY': case 'EXPN': case 'HELP': case 'UNKNOWN': case 'INVALID':
      return null; // no fault stage: these move no mail, or the core refused them
    default:
      return assertNever(command);
  }
}

/** The end of a message, before it is stored. */
export function messageEvent(env: Readonly<{ helo: string; from: string; to: readonly string[] }>, base: EventBase): FaultEvent {
  return { on: 'data-end', client: base.client, helo: env.helo, from: env.from, to: env.to, ...(base.user === null ? {} : { user: base.user }) };
}

/** RFC 5321 §3.8: 421 says the server closes the channel, so an injected 421 closes after it. */
const closes = (reply: Reply): boolean => reply.code === 421;

/** The step to commit for a command, given the verdict: the core's own, or the one the failure implies. */
export function faultStep(before: Phase, considered: Step, outcome: FaultOutcome): Step {
  switch (outcome.type) {
    case 'pass':
      return considered;
    case 'disconnect':
      return { phase: { kind: 'closed' }, actions: [{ type: 'close' }] };
    case 'reply': {
      const { reply } = outcome;
      if (closes(reply)) return { phase: { kind: 'closed' }, actions: [{ type: 'reply', reply }, { type: 'close' }] };
      // A refused BDAT: its octets follow on the wire regardless; the core reads and drops them, then says the reply.
      if (considered.phase.kind === 'in-chunk' && before.kind === 'await-data') return skipChunk(considered.phase.size, reply, before);
      return { phase: before, actions: [{ type: 'reply', reply }] };
    }
    default:
      return assertNever(outcome);
  }
}

/** The greeting, or what a connect fault does instead (any injected reply there ends the session). */
export function greetingActions(greeting: Action[], outcome: FaultOutcome): Action[] {
  switch (outcome.type) {
    case 'pass': return greeting;
    case 'disconnect': return [{ type: 'close' }];
    case 'reply': return [{ type: 'reply', reply: outcome.reply }, { type: 'close' }];
    default: return assertNever(outcome);
  }
}

/**
 * A message refused at its end: `afterFailure` is what the core did on 'store-failed' (fed for the refusal), and the
 * injected reply takes the place of its reply.
 */
export function refusedMessage(afterFailure: Action[], reply: Reply): Action[] {
  const out: Action[] = afterFailure.map((a) => (a.type === 'reply' ? { type: 'reply', reply } : a));
  return closes(reply) ? [...out, { type: 'close' }] : out;
}
