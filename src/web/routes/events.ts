/** /api/v1/events: every event of ../../events.ts as Server-Sent Events, with a heartbeat comment. */
import type { Hono } from 'hono';
import { EVENT_NAMES } from '../../events.js';
import type { WebContext } from './context.js';
import { eventAudience } from '../scope.js';

export function mountEventRoutes(app: Hono, ctx: WebContext): void {
  const { events } = ctx;
  app.get('/api/v1/events', (c) => {
    // A workspace's stream hears its own workspace's events only (../scope.ts); the workspace itself is never sent.
    const audience = eventAudience(ctx.rawStore);
    const encoder = new TextEncoder();
    const cleanups: (() => void)[] = [];
    const stop = (): void => { for (const f of cleanups.splice(0)) f(); };
    const stream = new ReadableStream<Uint8Array>({
      // Subscribed before the Response is returned, so no event between "connected" and "listening" is lost.
      start(controller) {
        const send = (text: string): void => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            stop();
          }
        };
        send(': connected\nretry: 2000\n\n');
        for (const name of EVENT_NAMES) {
          cleanups.push(events.on(name, (payload) => {
            void audience(name, payload).then((yes) => { if (yes) send(`event: ${name}\ndata: ${JSON.stringify({ id: payload.id })}\n\n`); }, () => undefined);
          }));
        }
        const ping = setInterval(() => send(': ping\n\n'), ctx.sseHeartbeatMs);
        cleanups.push(() => clearInterval(ping));
        c.req.raw.signal.addEventListener('abort', () => {
          stop();
          try { controller.close(); } catch { /* already closed */ }
        }, { once: true });
      },
      cancel: stop,
    });
    return new Response(stream, {
      status: 200,
      headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
    });
  });
}
