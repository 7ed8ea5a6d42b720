/** The `mailwire` command: argv → a subcommand. The only layer that reads process.argv and process.env. */
import { Command } from 'commander';
import { registerBenchCommand } from './bench-command.js';
import { registerClientCommand } from './client-command.js';
import { registerSendCommand } from './send-command.js';
import { registerServerCommand } from './server-command.js';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('mailwire')
    .description('An SMTP toolkit: the simplified SMTP server and client, and more to come.')
    .showHelpAfterError();
  registerServerCommand(program);
  registerClientCommand(program);
  registerSendCommand(program);
  registerBenchCommand(program);
  await program.parseAsync([...argv]);
}
