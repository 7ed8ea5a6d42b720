/**
 * GET / PUT / DELETE /api/v1/faults: the fault document in force, with each rule's `matched` and `fired` counters.
 * PUT replaces the whole document (counters start again); a document that does not check is a 400 naming the field
 * and why, and the one in force stays. DELETE clears.
 */
import type { Hono } from 'hono';
import type { WebContext } from './context.js';
import { adminOnly } from '../scope.js';

/** Mounts nothing when the app was given no fault controller. */
export function mountFaultRoutes(app: Hono, { faults }: WebContext): void {
  if (faults === undefined) return;
  const refuse = (message: string) => ({ error: { code: 'bad_request', message } });
  // The fault rules act on every session: admins only (a workspace's token gets the answer of a missing route).
  app.use('/api/v1/faults', adminOnly);

  app.get('/api/v1/faults', (c) => c.json(faults.view()));

  app.put('/api/v1/faults', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(refuse('body must be JSON: a fault document such as {"seed": 42, "rules": [{"on": "mail", "every": 3, "reply": "451 4.3.0 Try again later"}]}'), 400);
    }
    const loaded = faults.load(body);
    if (!loaded.ok) return c.json(refuse(loaded.error), 400);
    return c.json(faults.view());
  });

  app.delete('/api/v1/faults', (c) => {
    faults.clear();
    return c.json(faults.view());
  });
}
