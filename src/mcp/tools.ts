/**
 * The MCP (Model Context Protocol) server of mailwire: tools for a coding agent that tests mail flows. The tools
 * work over a MailwireClient, so the same server answers over streamable HTTP at /mcp (./http.ts: the client calls
 * the API's own handler in-process) and over stdio (`mailwire mcp --url …`: the client calls a running server).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MailwireApiError, MailwireTimeoutError, type MailwireClient } from '../api-client/client.js';
import type { CaughtMessage } from '../api-client/message.js';
import type { MessageSummary } from '../store/index.js';
import { htmlAsText } from '../store/html.js';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from '../config.js';

const MCP_SERVER_NAME = 'mailwire';
const SEARCH_LIMIT_MAX = 100;
const QUERY_HELP = 'Search syntax: free words; from:, to:, subject: (substrings; quote values with spaces); ' +
  'before:/after: (YYYY-MM-DD); has:attachment; is:unread/is:read; a leading - negates. Empty: every message.';

/** The package version, for the server's name in the MCP handshake. */
export type McpServerInfo = Readonly<{ version: string }>;

/** The answer as JSON text (for clients that read text) and as structuredContent (for those that read data). */
const json = (value: Readonly<Record<string, unknown>>): CallToolResult =>
  ({ content: [{ type: 'text', text: JSON.stringify(value, null, 2) }], structuredContent: { ...value } });
const failure = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

/** A listing row: enough to choose a message, nothing of its body. */
function row(m: MessageSummary): Record<string, unknown> {
  return {
    id: m.id, receivedAt: m.receivedAt, from: m.from?.address ?? null, to: m.to.map((t) => t.address),
    envelopeTo: m.envelope.to, subject: m.subject, snippet: m.snippet, attachments: m.attachmentCount, read: m.read,
  };
}

/** HTML as an agent reads it: see store/html.ts (one tokenizer, linear in the HTML's size). */
export { htmlAsText };

/** What an agent reads of a message: the text, the HTML as text, the headers, and the links and codes in it. */
function messageForAgent(m: CaughtMessage): Record<string, unknown> {
  return {
    id: m.id, receivedAt: m.receivedAt, subject: m.subject, from: m.from, to: m.to, cc: m.cc, date: m.date,
    envelope: m.envelope, text: m.text, htmlAsText: htmlAsText(m.html), headers: m.headers,
    links: m.links, codes: m.codes,
    attachments: m.attachments.map((a) => ({ index: a.index, filename: a.filename, contentType: a.contentType, size: a.size })),
  };
}

export function createMcpServer(client: MailwireClient, info: McpServerInfo): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: info.version });

  server.registerTool('search_messages', {
    title: 'Search caught mail',
    description: `Lists the messages mailwire caught, newest first: id, sender, recipients, subject, a snippet. ${QUERY_HELP}`,
    inputSchema: {
      query: z.string().max(1000).optional().describe('search query; empty or absent: every message'),
      limit: z.number().int().min(1).max(SEARCH_LIMIT_MAX).optional().describe('how many, 1 to 100 (default 20)'),
    },
    annotations: { readOnlyHint: true },
  }, async ({ query, limit }) => {
    const page = await client.summaries(query ?? '', { limit: limit ?? 20 });
    return json({ messages: page.messages.map(row), more: page.nextCursor !== null });
  });

  server.registerTool('get_message', {
    title: 'Read a message',
    description: 'One message by id: subject, addresses, the text body, the HTML body as text, the headers, the links and the one-time codes found in it, the attachments.',
    inputSchema: { id: z.string().min(1).max(200).describe('the id from search_messages or wait_for_message') },
    annotations: { readOnlyHint: true },
  }, async ({ id }) => {
    const m = await client.message(id);
    return m === null ? failure(`no message with id ${id}`) : json(messageForAgent(m));
  });

  server.registerTool('wait_for_message', {
    title: 'Wait for a message',
    description: `Waits until a message matching the query is caught (answers at once when one already is) and returns it as get_message does. ${QUERY_HELP}`,
    inputSchema: {
      query: z.string().max(1000).optional().describe('search query, e.g. to:new-user@example.test subject:confirm'),
      timeout_seconds: z.number().min(0).max(MAX_WAIT_SECONDS).optional().describe(`how long to wait, 0 to ${MAX_WAIT_SECONDS} s (default ${DEFAULT_WAIT_SECONDS})`),
    },
    annotations: { readOnlyHint: true },
  }, async ({ query, timeout_seconds: seconds }) => {
    try {
      return json(messageForAgent(await client.waitForMessage({ query: query ?? '', timeout: (seconds ?? DEFAULT_WAIT_SECONDS) * 1000 })));
    } catch (error) {
      if (error instanceof MailwireTimeoutError) return failure(error.message);
      throw error;
    }
  });

  server.registerTool('check_message', {
    title: 'Check a message',
    description: 'Puts a message through a check: html (HTML and CSS support per mail client, caniemail data), links (each link requested, through the SSRF guard), spam (SpamAssassin or rspamd score, when the server has one), headers (what a receiving server would trip over).',
    inputSchema: {
      id: z.string().min(1).max(200).describe('the id from search_messages or wait_for_message'),
      check: z.enum(['html', 'links', 'spam', 'headers']).describe('which check'),
    },
    annotations: { readOnlyHint: true, openWorldHint: true },
  }, async ({ id, check }) => {
    try {
      return json(await client.check(id, check));
    } catch (error) {
      if (error instanceof MailwireApiError) return failure(error.message);
      throw error;
    }
  });

  server.registerTool('list_inboxes', {
    title: 'List inboxes',
    description: 'Every envelope recipient address is an inbox: lists them with their message counts (total and unread).',
    inputSchema: {
      prefix: z.string().max(320).optional().describe('only addresses starting with this (case-insensitive)'),
      limit: z.number().int().min(1).max(1000).optional().describe('how many, 1 to 1000 (default 100)'),
    },
    annotations: { readOnlyHint: true },
  }, async ({ prefix, limit }) => json(await client.inboxes({ prefix: prefix ?? '', limit: limit ?? 100 })));

  server.registerTool('delete_messages', {
    title: 'Delete messages',
    description: 'Deletes the messages with the given ids, or every message matching a query. To delete everything, pass all: true.',
    inputSchema: {
      ids: z.array(z.string().min(1).max(200)).max(1000).optional().describe('ids to delete'),
      query: z.string().min(1).max(1000).optional().describe('delete every message matching this search query'),
      all: z.boolean().optional().describe('true: delete every message'),
    },
    annotations: { destructiveHint: true },
  }, async ({ ids, query, all }) => {
    const given = [ids !== undefined, query !== undefined, all === true].filter(Boolean).length;
    if (given !== 1) return failure('give exactly one of: ids, query, or all: true');
    if (ids !== undefined) {
      const deleted: string[] = [];
      for (const id of ids) if (await client.deleteMessage(id)) deleted.push(id);
      return json({ deleted: deleted.length, ids: deleted, notFound: ids.filter((id) => !deleted.includes(id)) });
    }
    return json({ deleted: await client.clear(query ?? '') });
  });

  return server;
}
