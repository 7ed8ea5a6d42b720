/** /api/v1/sessions: the recorded SMTP conversations, newest first, and one by id. */
import type { Hono } from 'hono';
import { sessionFilterParams } from './session-filters.js';
import { limitParam, notFound } from '../params.js';
import type { WebContext } from './context.js';

export function mountSessionRoutes(app: Hono, { store }: WebContext): void {
  app.get('/api/v1/sessions', async (c) => {
    const page = await store.listSessions({ limit: limitParam(c.req.query('limit')), cursor: c.req.query('cursor') ?? null, ...sessionFilterParams(c) });
    return c.json({ sessions: page.items, nextCursor: page.nextCursor });
  });

  app.get('/api/v1/sessions/:id', async (c) => {
    const s = await store.getSession(c.req.param('id'));
    if (!s) throw notFound('session');
    return c.json(s);
  });
}
