/**
 * The simplified dialect: the user's requirement (shared/spec/simplified-smtp.md), every reply text verbatim.
 * Each command phase accepts exactly one command; anything else, from EHLO to garbage to an empty line, gets that
 * phase's 503 and leaves the phase unchanged. QUIT is accepted in every command phase (spec step 4). The session never
 * disconnects its user for mistakes: the text asks for telnet to try exactly those.
 */
import type { Command } from '../command.js';
import { reply, type Reply } from '../reply.js';
import { SessionMisuseError, startData } from '../session.js';
import type { CommandPhase, Dialect, DialectPhase, SessionConfig, Step } from '../types.js';

const need = (text: string): Reply => reply(503, text);

/** Spec server steps 3.a–3.h: the one command each phase waits for, and the refusal of anything else. */
export const SIMPLIFIED_ORDER = {
  'await-helo': { verb: 'HELO', refuse: need('5.5.2 Send hello first') },
  'await-mail': { verb: 'MAIL', refuse: need('5.5.2 Need mail command') },
  'await-rcpt': { verb: 'RCPT', refuse: need('5.5.2 Need rcpt command') },
  'await-data': { verb: 'DATA', refuse: need('5.5.2 Need data command') },
} as const satisfies Record<CommandPhase['kind'], { verb: Command['verb']; refuse: Reply }>;

const SENDER_OK = reply(250, '2.1.0 Sender OK');
const RECIPIENT_OK = reply(250, '2.1.5 Recipient OK');
const START_INPUT = reply(354, 'Start mail input; end with <CRLF>.<CRLF>');

function command(phase: Exclude<DialectPhase, { kind: 'auth' }>, cmd: Command, cfg: SessionConfig): Step {
  // BDAT and AUTH phases belong to the smtp dialect; this one never enters them.
  if (phase.kind === 'chunking') throw new SessionMisuseError(`simplified dialect in phase '${phase.kind}'`);
  // Anything but the one command the phase wants is refused, an over-long line ('too-long') included.
  const refused: Step = { phase, actions: [{ type: 'reply', reply: SIMPLIFIED_ORDER[phase.kind].refuse }] };
  if (cmd.verb === 'QUIT' && cmd.arg === '') {
    return {
      phase: { kind: 'closed' },
      actions: [{ type: 'reply', reply: reply(221, `${cfg.serverName} closing connection`) }, { type: 'close' }],
    };
  }
  switch (phase.kind) {
    case 'await-helo':
      if (cmd.verb !== 'HELO' || cmd.domain === '') return refused;
      return {
        phase: { kind: 'await-mail', helo: cmd.domain },
        actions: [{ type: 'reply', reply: reply(250, `${cfg.serverName} Hello ${cfg.clientAddress}`) }],
      };
    case 'await-mail':
      if (cmd.verb !== 'MAIL') return refused;
      return { phase: { kind: 'await-rcpt', helo: phase.helo, from: cmd.path }, actions: [{ type: 'reply', reply: SENDER_OK }] };
    case 'await-rcpt':
      if (cmd.verb !== 'RCPT' || cmd.path === '') return refused;
      return {
        phase: { kind: 'await-data', env: { helo: phase.helo, from: phase.from, to: [cmd.path] } },
        actions: [{ type: 'reply', reply: RECIPIENT_OK }],
      };
    case 'await-data':
      if (cmd.verb !== 'DATA' || cmd.arg !== '') return refused;
      return { phase: startData(phase.env), actions: [{ type: 'reply', reply: START_INPUT }] };
  }
}

export const simplifiedDialect: Dialect = {
  name: 'simplified',
  greeting: (cfg) => reply(220, `${cfg.serverName} mailwire Simplified SMTP service ready`),
  command,
  // Spec server step 4, "Repeat Step 3", which begins at 3.a: the next mail starts with HELO again.
  afterMessage: () => ({ kind: 'await-helo' }),
  replies: {
    stored: reply(250, 'Message received and to be delivered'),
    storeFailed: reply(451, '4.3.0 Message not stored; try again later'),
    storeFull: reply(452, '4.3.1 Insufficient system storage; try again later'),
    tooBig: reply(552, '5.3.4 Message too big for system'),
    timeout: (cfg) => reply(421, `4.4.2 ${cfg.serverName} Idle timeout, closing connection`),
    lifetime: (cfg) => reply(421, `4.4.2 ${cfg.serverName} Session time limit reached, closing connection`),
    shutdown: (cfg) => reply(421, `4.3.2 ${cfg.serverName} Service shutting down, closing connection`),
  },
};
