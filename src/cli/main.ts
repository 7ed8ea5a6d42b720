/** The `mailwire` command: argv → a subcommand. The only layer that reads process.argv and process.env. */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerBenchCommand } from './bench-command.js';
import { registerClientCommand } from './client-command.js';
import { registerMcpCommand } from './mcp-command.js';
import { registerSendCommand } from './send-command.js';
import { registerServerCommand } from './server-command.js';

/**
 * A usage error as one line and where the help is ("error: unknown option '--prot' (Did you mean --port?); see
 * `mailwire server --help`"), not the error followed by the whole help.
 */
export function usageLine(text: string, helpCommand: string): string {
  const line = text.trim().split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').join(' ')
    .replace(/ is invalid\. /, ' is invalid: ') // commander's "argument 'abc' is invalid." before our parser's reason
    .replace(/\.$/, '');
  return `${line}; see \`${helpCommand} --help\`\n`;
}

function oneLineErrors(command: Command, helpCommand: string): void {
  command.showHelpAfterError(false).configureOutput({ outputError: (text, write) => write(usageLine(text, helpCommand)) });
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('mailwire')
    .description('An SMTP toolkit: an SMTP server and mail catcher with an HTTP API and web UI, a client that shows the wire, a load generator and an MCP server.')
    .version(VERSION, '-V, --version', 'print mailwire\'s version');
  registerServerCommand(program);
  registerClientCommand(program);
  registerSendCommand(program);
  registerBenchCommand(program);
  registerMcpCommand(program);
  oneLineErrors(program, 'mailwire');
  for (const command of program.commands) oneLineErrors(command, `mailwire ${command.name()}`);
  await program.parseAsync([...argv]);
}
