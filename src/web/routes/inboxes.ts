/**
 * Inboxes in the HTTP API: every envelope recipient address is one. The listing asks the store; one inbox's messages
 * and its long-poll are the messages API itself with the search term `inbox:ADDRESS` added, answered by the same
 * handlers (re-dispatched in-process), so paging, search and waiting mean exactly what they mean there. Deleting an
 * inbox's messages takes them out of that inbox only (the store's deleteInboxMessages); a message no inbox holds any
 * more is deleted, and only those get a `message-deleted` event.
 */
import type { Hono } from 'hono';
import { badRequest, limitParam } from '../params.js';
import type { WebContext } from './context.js';
import { quoteTerm } from '../../store/search-term.js';

const MAX_ADDRESS_LENGTH = 320;

/** `inbox:"ADDRESS"` with the user's own query after it. */
function inboxQuery(address: string, query: string): string {
  return `inbox:${quoteTerm(address)}${query.trim() === '' ? '' : ` ${query}`}`;
}

export function mountInboxRoutes(app: Hono, { store, events, api }: WebContext): void {
  app.get('/api/v1/inboxes', async (c) => {
    const limit = limitParam(c.req.query('limit'));
    const prefix = c.req.query('prefix') ?? '';
    if (prefix.length > MAX_ADDRESS_LENGTH) throw badRequest(`prefix is longer than ${MAX_ADDRESS_LENGTH} characters`);
    const page = await store.listInboxes({ prefix, ...(limit === undefined ? {} : { limit }), cursor: c.req.query('cursor') ?? null });
    return c.json({ inboxes: page.items, nextCursor: page.nextCursor });
  });

  app.delete('/api/v1/inboxes/:address/messages', async (c) => {
    const address = c.req.param('address');
    if (address === '' || address.length > MAX_ADDRESS_LENGTH) throw badRequest(`an inbox address has 1 to ${MAX_ADDRESS_LENGTH} characters`);
    const { removed, deleted } = await store.deleteInboxMessages(address, c.req.query('query') ?? '');
    for (const id of deleted) events.emit('message-deleted', { id });
    return c.json({ removed, deleted: deleted.length, ids: deleted });
  });

  // One inbox: the messages API with inbox:ADDRESS added to the query.
  for (const [suffix, target] of [['messages', '/api/v1/messages'], ['wait', '/api/v1/messages/wait']] as const) {
    app.get(`/api/v1/inboxes/:address/${suffix}`, async (c) => {
      const address = c.req.param('address');
      if (address === '' || address.length > MAX_ADDRESS_LENGTH) throw badRequest(`an inbox address has 1 to ${MAX_ADDRESS_LENGTH} characters`);
      const url = new URL(c.req.url);
      url.pathname = target;
      url.searchParams.set('query', inboxQuery(address, url.searchParams.get('query') ?? ''));
      return api(new Request(url, { headers: c.req.raw.headers, signal: c.req.raw.signal }));
    });
  }
}
