/**
 * /api/v1/messages/ID/checks/… and …/screenshot: the checks of src/checks, over HTTP. The ones that make requests
 * (links, spam) are POSTs; every route that makes the machine do work for a page (links, spam, screenshot) refuses
 * `Sec-Fetch-Site: cross-site`, so that no web page can make it fetch or render in a loop through `<img>` or a form.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { CheckError, type MessageChecks } from '../../checks/service.js';
import type { ScreenshotFormat } from '../../checks/screenshot.js';
import { HttpError, badRequest } from '../params.js';
import type { WebRoutes } from './context.js';

function refuseCrossSite(c: Context): void {
  if (c.req.header('sec-fetch-site') === 'cross-site') throw new HttpError(403, 'forbidden', 'checks are not run for requests from another site');
}

async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof CheckError) {
      const code = { 400: 'bad_request', 404: 'not_found', 501: 'not_implemented', 502: 'bad_gateway', 503: 'unavailable' }[e.status];
      throw new HttpError(e.status, code, e.message);
    }
    throw e;
  }
}

export function checkRoutes(checks: MessageChecks): WebRoutes {
  return (app: Hono, ctx) => {
    // The checks keep results by id: another workspace's id is answered as a missing one before any is looked at.
    const owned: MiddlewareHandler = async (c, next) => {
      const id = c.req.param('id') ?? '';
      if ((await ctx.store.messageWorkspace(id)) === null) throw new HttpError(404, 'not_found', `no message ${id}`);
      return next();
    };
    app.use('/api/v1/messages/:id/checks/*', owned);
    app.use('/api/v1/messages/:id/screenshot', owned);
    app.get('/api/v1/messages/:id/checks/html', async (c) => c.json(await answer(() => checks.html(c.req.param('id'), c.req.query('clients')))));
    app.get('/api/v1/messages/:id/checks/headers', async (c) => c.json(await answer(() => checks.headers(c.req.param('id')))));
    app.post('/api/v1/messages/:id/checks/links', async (c) => {
      refuseCrossSite(c);
      return c.json(await answer(() => checks.links(c.req.param('id'))));
    });
    app.post('/api/v1/messages/:id/checks/spam', async (c) => {
      refuseCrossSite(c);
      return c.json(await answer(() => checks.spam(c.req.param('id'))));
    });
    app.get('/api/v1/messages/:id/screenshot', async (c) => {
      refuseCrossSite(c);
      const widthText = c.req.query('width') ?? '390';
      const width = Number(widthText);
      if (!/^\d{3,4}$/.test(widthText) || width < 200 || width > 2000) throw badRequest(`width must be a whole number of pixels from 200 to 2000, not ${JSON.stringify(widthText)}`);
      const formatText = c.req.query('format') ?? 'png';
      if (formatText !== 'png' && formatText !== 'jpeg') throw badRequest(`format must be png or jpeg, not ${JSON.stringify(formatText)}`);
      const format: ScreenshotFormat = formatText;
      const flag = (name: string): boolean => ['1', 'true'].includes(c.req.query(name) ?? '');
      const image = await answer(() => checks.screenshot(c.req.param('id'), { width, format, full: flag('full'), remote: flag('remote') }));
      return c.body(new Uint8Array(image), 200, { 'Content-Type': `image/${format}`, 'Cache-Control': 'no-store' });
    });
  };
}
