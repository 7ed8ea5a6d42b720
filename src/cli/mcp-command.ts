/** `mailwire mcp --url …`: the MCP server over stdio, for an agent that starts it as a subprocess. */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_HTTP_PORT } from '../config.js';
import { createMcpServer } from '../mcp/tools.js';
import { MailwireApiError, MailwireClient } from '../api-client/client.js';
import { VERSION } from '../version.js';

type McpFlags = { url: string; auth?: string; token?: string };

export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description('an MCP (Model Context Protocol) server over stdio, for coding agents, with the tools of a running mailwire server\'s /mcp')
    .option('--url <url>', 'the running mailwire server\'s HTTP API', `http://${DEFAULT_HOST}:${DEFAULT_HTTP_PORT}`)
    .option('--auth <user:pass>', 'HTTP Basic login for a server with --http-auth-file (or set MAILWIRE_HTTP_AUTH)')
    .option('--token <token>', 'a workspace\'s (or an admin\'s) API token, for a server with --workspaces (or set MAILWIRE_TOKEN): the tools see that workspace only')
    .action(async (flags: McpFlags) => {
      const auth = flags.auth ?? process.env['MAILWIRE_HTTP_AUTH'];
      const token = flags.token ?? process.env['MAILWIRE_TOKEN'];
      if (auth !== undefined && auth.indexOf(':') <= 0) throw new Error('--auth (or MAILWIRE_HTTP_AUTH) must be user:pass');
      if (auth !== undefined && token !== undefined) throw new Error('give --auth or --token, not both');
      const credentials = token !== undefined ? { token } : auth !== undefined ? { auth } : {};
      let client: MailwireClient;
      try {
        client = new MailwireClient(flags.url, credentials);
      } catch {
        throw new Error(`mailwire mcp: --url ${flags.url} is not an http(s) URL such as http://127.0.0.1:8025`);
      }
      await checkServer(flags.url, credentials);
      const server = createMcpServer(client, { version: VERSION });
      // stdout carries the protocol: anything else goes to stderr.
      await server.connect(new StdioServerTransport());
      process.stderr.write(`mailwire mcp: serving MCP on stdio for ${client.url}\n`);
      const stop = (): void => void server.close().then(() => client.close()).finally(() => process.exit(0));
      process.stdin.on('end', stop);
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
}

/** The lifetime of the start-up check: an agent waits for the MCP handshake meanwhile. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * Asks the server once before serving, so that a wrong --url (or login) is said at start, in one line, instead of
 * as each tool's error later.
 */
async function checkServer(url: string, credentials: Readonly<{ auth?: string; token?: string }>): Promise<void> {
  const probe = new MailwireClient(url, {
    ...credentials,
    fetch: (request) => fetch(request, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) }),
  });
  try {
    await probe.summaries('', { limit: 1 });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const fix = error instanceof MailwireApiError && error.status === 401 ? 'give --auth user:pass (or MAILWIRE_HTTP_AUTH), or --token TOKEN for a server with workspaces'
      : 'start one (npm run catcher) or give --url';
    throw new Error(`mailwire mcp: no mailwire API at --url ${url} (${why}); ${fix}`);
  } finally {
    await probe.close();
  }
}

