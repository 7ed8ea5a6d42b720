/** Runs `mailwire server …` as a child process and waits, with a deadline, for what it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export type ServerProgram = Readonly<{
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output: () => string;
  /** Resolves with the first match of `re` in the output; fails after `ms` or when the process exits first. */
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpExecArray>;
  stop: () => Promise<void>;
}>;

export function startServerProgram(args: readonly string[]): ServerProgram {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let wake: (() => void) | null = null;
  const add = (d: string): void => {
    out += d;
    wake?.();
  };
  child.stdout?.setEncoding('utf8').on('data', add);
  child.stderr?.setEncoding('utf8').on('data', add);
  child.on('exit', () => wake?.());
  return {
    child,
    output: () => out,
    async waitFor(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before printing ${re}:\n${out}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${re} within ${ms} ms:\n${out}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            wake = null;
            resolve();
          };
        });
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits for the process to exit on its own (a refusal to start), with a deadline. */
export async function exitOf(p: ServerProgram, ms = 10_000): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  const [code] = (await once(p.child, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}
