/**
 * /api/v1/webhooks: the webhooks (made here, or given by --webhook) and their deliveries (src/webhooks). POST answers
 * 201 with the webhook and its secret, shown this once (listings show its last characters); a bad field is a 400
 * naming it, a URL the outbound guard refuses is a 400 saying which rule. Webhooks from --webhook are listed but are
 * changed by changing the flag (409 here).
 */
import type { Hono } from 'hono';
import type { WebhookService } from '../../webhooks/service.js';
import { HttpError, badRequest, limitParam, notFound } from '../params.js';
import type { WebRoutes } from './context.js';
import { adminOnly } from '../scope.js';

export function webhookRoutes(webhooks: WebhookService): WebRoutes {
  return (app: Hono) => {
    // Webhooks see every workspace's mail: admins only (issue 26).
    app.use('/api/v1/webhooks', adminOnly);
    app.use('/api/v1/webhooks/*', adminOnly);
    const body = async (c: { req: { json(): Promise<unknown> } }): Promise<unknown> => {
      try {
        return await c.req.json();
      } catch {
        throw badRequest('body must be JSON: {"url": "http://…", "events": ["message-stored"], "query": "", "payload": "summary", "secret": "whsec_…"}');
      }
    };

    app.get('/api/v1/webhooks', async (c) => c.json({ webhooks: await webhooks.list() }));

    app.post('/api/v1/webhooks', async (c) => {
      const made = await webhooks.create(await body(c));
      if (!made.ok) throw badRequest(made.error);
      return c.json(made.value, 201);
    });

    app.get('/api/v1/webhooks/:id', async (c) => {
      const hook = await webhooks.get(c.req.param('id'));
      if (hook === null) throw notFound('webhook');
      return c.json(hook);
    });

    app.patch('/api/v1/webhooks/:id', async (c) => {
      const id = c.req.param('id');
      const changed = await webhooks.update(id, await body(c));
      if (changed === null) throw notFound('webhook');
      if (changed === 'configured') throw new HttpError(409, 'configured', `webhook ${id} comes from --webhook and is changed by changing the flag`);
      if (!changed.ok) throw badRequest(changed.error);
      return c.json(changed.value);
    });

    app.delete('/api/v1/webhooks/:id', async (c) => {
      const id = c.req.param('id');
      const gone = await webhooks.remove(id);
      if (gone === null) throw notFound('webhook');
      if (gone === 'configured') throw new HttpError(409, 'configured', `webhook ${id} comes from --webhook and is removed by removing the flag`);
      return c.body(null, 204);
    });

    app.get('/api/v1/webhooks/:id/deliveries', async (c) => {
      const list = await webhooks.deliveries(c.req.param('id'), limitParam(c.req.query('limit')) ?? 50);
      if (list === null) throw notFound('webhook');
      return c.json({ deliveries: list });
    });

    app.post('/api/v1/webhooks/:id/deliveries/:did/retry', async (c) => {
      if (!(await webhooks.retry(c.req.param('id'), c.req.param('did')))) throw notFound('delivery');
      return c.json({ id: c.req.param('did'), state: 'pending' }, 202);
    });
  };
}
