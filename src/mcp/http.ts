/**
 * MCP over streamable HTTP at /mcp, stateless: each POST gets a fresh MCP server whose tools call this same web
 * app in-process (through its guard, with the caller's own Host and credentials), answered as JSON.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Hono } from 'hono';
import { MailwireClient } from '../api-client/client.js';
import { createMcpServer, type McpServerInfo } from './tools.js';

const MCP_PATH = '/mcp';

/** Mounts POST /mcp; `api` answers a request as the web app does (its own fetch). */
export function mountMcp(app: Hono, api: (request: Request) => Promise<Response>, info: McpServerInfo): void {
  app.post(MCP_PATH, async (c) => {
    const incoming = c.req.raw;
    const forwarded = ['host', 'authorization'] as const;
    const client = new MailwireClient(new URL(incoming.url).origin, {
      fetch: (request) => {
        for (const name of forwarded) {
          const value = incoming.headers.get(name);
          if (value !== null) request.headers.set(name, value);
        }
        return api(request);
      },
    });
    incoming.signal.addEventListener('abort', () => void client.close(), { once: true }); // the caller left: stop waiting
    const server = createMcpServer(client, info);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    try {
      return await transport.handleRequest(incoming);
    } finally {
      await server.close();
      await client.close();
    }
  });
  // Stateless: no server-initiated stream to open (GET) and no session to end (DELETE).
  app.on(['GET', 'DELETE'], MCP_PATH, (c) =>
    c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP endpoint is stateless; POST only' }, id: null }, 405, { Allow: 'POST' }));
}
