/** The `mailwire` command: argv → a subcommand. The only layer that reads process.argv and process.env. */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerBenchCommand } from './bench-command.js';
import { registerClientCommand } from './client-command.js';
import { registerMcpCommand } from './mcp-command.js';
import { registerSendCommand } from './send-command.js';
import { registerServerCommand } from './server-command.js';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('mailwire')
    .description('An SMTP toolkit: the simplified SMTP server and client, and more to come.')
    .version(VERSION, '-V, --version', 'print mailwire\'s version')
    .showHelpAfterError();
  registerServerCommand(program);
  registerClientCommand(program);
  registerSendCommand(program);
  registerBenchCommand(program);
  registerMcpCommand(program);
  await program.parseAsync([...argv]);
}

