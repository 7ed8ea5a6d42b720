/** `mailwire server` as a user runs it: a child process on port 0, its standard output kept, its port read from it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitForOutput } from './wait.js';

export type ServerProgram = Readonly<{ child: ChildProcess; port: number; output: () => string }>;

/**
 * Starts `bin/mailwire.js server ...args` and resolves once it has said its SMTP port (and matched `ready`, when given).
 * The caller ends the child (SIGTERM, or SIGKILL in its `finally`); a program that never gets ready is killed here.
 */
export async function startServerProgram(args: readonly string[], ready?: RegExp, deadlineMs = 20_000): Promise<ServerProgram> {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'server', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const output = (): string => out;
  try {
    const port = Number((await waitForOutput('the server to say its port', output, /listening on 127\.0\.0\.1:(\d+)/, deadlineMs))[1]);
    if (ready !== undefined) await waitForOutput(`the server to say ${String(ready)}`, output, ready, deadlineMs);
    return { child, port, output };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
