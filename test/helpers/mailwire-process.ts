/**
 * `mailwire server` as a child process, as an operator runs it: started with the given flags on free ports (add
 * --port 0 --http-port 0 yourself), ready once it has printed where it listens, stopped with SIGTERM by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from './wait.js';

export type MailwireProcess = Readonly<{
  child: ChildProcess;
  smtpPort: number;
  /** "http://127.0.0.1:port", or null with --no-http. */
  api: string | null;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}>;

export async function startMailwire(args: readonly string[], timeoutMs = 20_000): Promise<MailwireProcess> {
  // POP3 and IMAP on free ports unless the test says otherwise (a later flag wins), so parallel servers never collide.
  const child = spawn(process.execPath, ['bin/mailwire.js', 'server', '--pop3-port', '0', '--imap-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const http = !args.includes('--no-http');
  const ready = (): boolean => (http ? /HTTP API on http:\/\/\S+\/api/.test(out) : /mailwire: store /.test(out));
  try {
    await waitFor('mailwire server to say where it listens', () => {
      if (child.exitCode !== null) throw new Error(`mailwire server exited (${child.exitCode}):\n${out}`);
      return ready();
    }, { deadlineMs: timeoutMs, seen: () => out });
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw error;
  }
  const smtpPort = Number(/listening on \S+:(\d+)/.exec(out)?.[1]);
  const api = http ? (/HTTP API on (http:\/\/[^/\s]+)\//.exec(out)?.[1] ?? null) : null;
  return {
    child,
    smtpPort,
    api,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const late = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code] = await exited;
      clearTimeout(late);
      return code;
    },
  };
}
