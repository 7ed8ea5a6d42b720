/** /healthz for load balancers and orchestrators, /metrics for Prometheus. */
import type { Hono } from 'hono';
import type { WebContext } from './context.js';
import { adminOnly } from '../scope.js';

export function mountHealthRoutes(app: Hono, { store, metrics }: WebContext): void {
  // 503 while the store cannot take mail, or saves wait too long for it (`degraded`; the reason says why); the index
  // backlog and lag either way.
  app.get('/healthz', (c) => {
    const health = store.health();
    const status = !health.ok ? 'unavailable' : health.degraded !== undefined ? 'degraded' : 'ok';
    return c.json({ status, store: health }, status === 'ok' ? 200 : 503);
  });
  // Admins only: a workspace's token gets the answer of a route that does not exist (issue 26).
  app.get('/metrics', adminOnly, async (c) => {
    return c.body(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType });
  });
}
