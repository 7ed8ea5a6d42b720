/**
 * Client side, pure: which commands a transaction sends and which reply each expects. The interactive client and
 * the load generator both walk such a plan; the shell does the sending and the timing.
 */
import { domainOf } from './address.js';

export type PlannedStep = Readonly<
  { label: string; expect: number } & ({ kind: 'command'; line: string } | { kind: 'message' })
>;

/**
 * The simplified dialect's transaction, spec client steps 4.a–4.e: HELO with the sender's domain before every
 * message, one recipient, and the command texts as the spec writes them ("MAIL FROM: <…>", with the space).
 */
export function simplifiedTransaction(from: string, to: string): readonly PlannedStep[] {
  return [
    { label: 'HELO', kind: 'command', line: `HELO ${domainOf(from)}`, expect: 250 },
    { label: 'MAIL FROM', kind: 'command', line: `MAIL FROM: <${from}>`, expect: 250 },
    { label: 'RCPT TO', kind: 'command', line: `RCPT TO: <${to}>`, expect: 250 },
    { label: 'DATA', kind: 'command', line: 'DATA', expect: 354 },
    { label: 'message', kind: 'message', expect: 250 },
  ];
}
