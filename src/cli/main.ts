/** The `mailwire` command: argv → a subcommand. The only layer that reads process.argv and process.env. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBenchCommand } from './bench-command.js';
import { registerClientCommand } from './client-command.js';
import { registerSendCommand } from './send-command.js';
import { registerServerCommand } from './server-command.js';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('mailwire')
    .description('An SMTP toolkit: the simplified SMTP server and client, and more to come.')
    .version(packageVersion(), '-V, --version', 'print mailwire\'s version')
    .showHelpAfterError();
  registerServerCommand(program);
  registerClientCommand(program);
  registerSendCommand(program);
  registerBenchCommand(program);
  await program.parseAsync([...argv]);
}

/** The version in package.json (this file runs as dist/src/cli/main.js, in the repository or an installed package). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
