/** `mailwire …` as a child process, its output collected, with waits that have deadlines and fail loudly. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export type Program = Readonly<{
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the first match of `pattern` in the output; rejects after `timeoutMs` or when the program exits. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  /** SIGTERM, then the exit code (SIGKILL and a rejection if it does not exit within the deadline). */
  stop: (timeoutMs?: number) => Promise<number | null>;
}>;

export function startProgram(args: readonly string[], env: NodeJS.ProcessEnv = process.env, command: readonly string[] = [process.execPath, 'bin/mailwire.js']): Program {
  const [file, ...rest] = command;
  if (file === undefined) throw new Error('no command');
  const child = spawn(file, [...rest, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: string): void => {
    out += d;
    for (const l of listeners) l();
  };
  child.stdout?.setEncoding('utf8').on('data', onData);
  child.stderr?.setEncoding('utf8').on('data', onData);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    output: () => out,
    waitFor: (pattern, timeoutMs = 15_000) => new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(out);
        if (m === null) return;
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      const onExit = (code: number | null): void => {
        done();
        reject(new Error(`the program exited (${code}) before ${pattern}:\n${out}`));
      };
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.on('exit', onExit);
      check();
      if (listeners.has(check) && (child.exitCode !== null || child.signalCode !== null)) onExit(child.exitCode);
    }),
    stop: async (timeoutMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        const [code, signal] = await exited;
        if (signal === 'SIGKILL') throw new Error(`the program did not stop within ${timeoutMs} ms:\n${out}`);
        return code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
