/**
 * The core hands over the typed Command it read a line as (SmtpSession.considerLine): fault injection matches on it
 * instead of re-reading the line's first word in the shell. One parse, and the step is the one feed() would take.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandEvent } from '../../../src/faults/session-faults.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { simplifiedDialect } from '../../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import type { Line } from '../../../src/smtp/core/line-splitter.js';
import { SmtpSession } from '../../../src/smtp/core/session.js';
import type { Dialect } from '../../../src/smtp/core/types.js';

const line = (text: string, overflow = false): Line => ({ text, ending: 'crlf', overflow });
const session = (dialect: Dialect): SmtpSession =>
  new SmtpSession({ dialect, serverName: 'mx.test', clientAddress: '192.0.2.1', limits: resolveLimits({}) });
const base = { client: '192.0.2.1', user: null };

describe('considerLine: the Command the core read', () => {
  it('hands over MAIL with its path, and the step feed() would take, without committing it', () => {
    const s = session(smtpDialect);
    s.feed({ type: 'line', line: line('EHLO client.test') });
    const before = s.phase;
    const { step, command } = s.considerLine(line('mail from:<a@b.test> SIZE=10'));
    assert.deepEqual(command, { verb: 'MAIL', path: 'a@b.test', bracketed: true, params: 'SIZE=10' });
    assert.equal(s.phase, before, 'nothing committed');
    // The same step as feeding the line to a session in the same state.
    const twin = session(smtpDialect);
    twin.feed({ type: 'line', line: line('EHLO client.test') });
    const fed = twin.feed({ type: 'line', line: line('mail from:<a@b.test> SIZE=10') });
    assert.deepEqual(step.actions, fed);
    assert.deepEqual(step.phase, twin.phase);
    assert.equal(step.phase.kind, 'await-rcpt');
    s.commit(step);
    assert.deepEqual(s.phase, twin.phase);
    assert.deepEqual(commandEvent(command ?? assert.fail('no command'), before, step, base), { on: 'mail', client: '192.0.2.1', helo: 'client.test', from: 'a@b.test' });
  });

  it('reads an over-long line as INVALID too-long, never parsed, answered 500 as before', () => {
    const s = session(smtpDialect);
    const { step, command } = s.considerLine(line('MAIL FROM:<x@y>', true));
    assert.deepEqual(command, { verb: 'INVALID', why: 'too-long', said: '' });
    assert.deepEqual(step.actions, [{ type: 'reply', reply: { code: 500, lines: ['5.5.2 Line too long'] } }]);
    assert.equal(commandEvent(command ?? assert.fail('no command'), s.phase, step, base), null);
  });

  it('gives no Command for message text or an AUTH answer', () => {
    const s = session(smtpDialect);
    for (const l of ['EHLO c.test', 'MAIL FROM:<a@b.test>', 'RCPT TO:<c@d.test>', 'DATA']) s.feed({ type: 'line', line: line(l) });
    assert.equal(s.considerLine(line('MAIL FROM:<not@a.command>')).command, null);
  });

  it('a refused command is no fault event (a fault stands in for a success)', () => {
    const s = session(smtpDialect);
    const before = s.phase;
    const { step, command } = s.considerLine(line('MAIL FROM:<a@b.test>')); // before any hello: 503
    assert.equal(command?.verb, 'MAIL');
    assert.equal(commandEvent(command ?? assert.fail('no command'), before, step, base), null);
  });

  it('the simplified dialect: the same Command, and its own replies', () => {
    const s = session(simplifiedDialect);
    const before = s.phase;
    const { step, command } = s.considerLine(line('HELO client.test'));
    assert.deepEqual(command, { verb: 'HELO', domain: 'client.test' });
    assert.deepEqual(commandEvent(command ?? assert.fail('no command'), before, step, base), { on: 'helo', client: '192.0.2.1', helo: 'client.test' });
    const long = s.considerLine(line('HELO x', true));
    assert.deepEqual(long.command, { verb: 'INVALID', why: 'too-long', said: '' });
    assert.deepEqual(long.step.actions, [{ type: 'reply', reply: { code: 503, lines: ['5.5.2 Send hello first'] } }]);
  });
});
