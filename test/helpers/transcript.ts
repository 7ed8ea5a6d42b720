/**
 * One transcript format for the pure core and the real server (after chasquid's .cmy files):
 *   C: text   the client sends "text\r\n"
 *   L: text   the client sends "text\n" (a bare LF, as nc without -C does)
 *   S: text   the server's next reply line is exactly "text"
 *   S~ text   the server's next reply line starts with "text" (for what the spec leaves open)
 *   # ...     a comment
 * ${SERVER} and ${CLIENT} stand for the server's and client's addresses, which the driver knows.
 */
export const SERVER = '\u0001SERVER\u0001';
export const CLIENT = '\u0001CLIENT\u0001';

export type TranscriptStep =
  | { kind: 'send'; bytes: string }
  | { kind: 'expect'; line: string; prefix: boolean };

export function transcript(strings: TemplateStringsArray, ...values: string[]): TranscriptStep[] {
  const text = strings.reduce((acc, s, i) => acc + s + (values[i] ?? ''), '');
  const steps: TranscriptStep[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const tag = line.slice(0, 2);
    const rest = line.length > 2 && line[2] === ' ' ? line.slice(3) : line.slice(2);
    switch (tag) {
      case 'C:': steps.push({ kind: 'send', bytes: `${rest}\r\n` }); break;
      case 'L:': steps.push({ kind: 'send', bytes: `${rest}\n` }); break;
      case 'S:': steps.push({ kind: 'expect', line: rest, prefix: false }); break;
      case 'S~': steps.push({ kind: 'expect', line: rest, prefix: true }); break;
      default: throw new Error(`transcript: cannot read line ${JSON.stringify(raw)}`);
    }
  }
  return steps;
}

/** The client bytes of a transcript, concatenated: what a pipelining or byte-splitting driver sends. */
export const clientBytes = (steps: readonly TranscriptStep[]): string =>
  steps.map((s) => (s.kind === 'send' ? s.bytes : '')).join('');

export type Names = Readonly<{ server: string; client: string }>;

export const fill = (line: string, names: Names): string => line.replaceAll(SERVER, names.server).replaceAll(CLIENT, names.client);

/**
 * Checks the server's reply lines against the transcript's expectations, in order. A mismatch fails with the whole
 * dialogue so far, so the failure reads like the session it came from.
 */
export function checkReplies(steps: readonly TranscriptStep[], replies: readonly string[], names: Names): void {
  const dialogue: string[] = [];
  let next = 0;
  for (const step of steps) {
    if (step.kind === 'send') {
      dialogue.push(`C: ${JSON.stringify(step.bytes)}`);
      continue;
    }
    const want = fill(step.line, names);
    const got = replies[next++];
    dialogue.push(`S: ${got === undefined ? '(nothing)' : got}`);
    const ok = got !== undefined && (step.prefix ? got.startsWith(want) : got === want);
    if (!ok) {
      throw new Error(`transcript mismatch: expected ${step.prefix ? 'a line starting with ' : ''}${JSON.stringify(want)}\n${dialogue.join('\n')}`);
    }
  }
  if (next < replies.length) throw new Error(`unexpected extra reply lines: ${JSON.stringify(replies.slice(next))}\n${dialogue.join('\n')}`);
}
