import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { DEFAULT_PORT } from '../config.js';
import { runInteractiveClient, type InteractiveIO } from '../smtp/client/interactive.js';
import { parsePort } from './parse.js';

export function registerClientCommand(program: Command): void {
  program
    .command('client')
    .description('the interactive client of the simplified dialect: asks for the server and a mail, sends it and prints each reply with its round-trip time')
    .option('--host <host>', 'the server\'s host name or IP address (asked for when not given)')
    .option('--port <port>', 'the server\'s port', parsePort, DEFAULT_PORT)
    .action(async (flags: { host?: string; port: number }) => {
      const io = processIO();
      process.exitCode = await runInteractiveClient(io, { ...(flags.host === undefined ? {} : { host: flags.host }), port: flags.port });
      io.close();
    });
}

/**
 * Lines from standard input, whether a terminal or a pipe; prompts and output to standard output. From a pipe the
 * answers are echoed after their prompts, so the output reads as the session a person would have seen.
 */
function processIO(): InteractiveIO & { close(): void } {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const echo = process.stdin.isTTY !== true;
  return {
    async readLine() {
      const next = await lines.next();
      if (next.done === true) return null;
      if (echo) process.stdout.write(`${next.value}\n`);
      return next.value;
    },
    prompt: (text) => void process.stdout.write(text),
    print: (line) => void process.stdout.write(`${line}\n`),
    close: () => rl.close(),
  };
}
