/**
 * Mailpit's and MailHog's HTTP APIs, for clients written against them: under /mailpit and /mailhog on the HTTP port
 * (mountCompatApis), or each alone at the root of a port of its own (--mailpit-api-port, --mailhog-api-port:
 * createCompatApp). Both pass the same guard as mailwire's own API (./guard.ts), loosened only where their clients
 * need it: MailHog's client sends untyped JSON bodies, and Mailpit's send takes a whole message.
 */
import { Hono } from 'hono';
import { DEFAULT_LIMITS } from '../../smtp/core/limits.js';
import { guardHttp, type GuardOptions, type HttpAccess } from '../guard.js';
import type { WebApp } from '../app.js';
import { mailhogApi } from './mailhog.js';
import { requestScopedStore } from '../scope.js';
import { mailpitApi, type CompatOptions } from './mailpit.js';

export type { CompatOptions } from './mailpit.js';
export type CompatKind = 'mailpit' | 'mailhog';

/** Mailpit's send carries a whole message, its attachments in base64 (4/3 of their size), plus the JSON around it. */
const sendBodyLimit = (maxMessageBytes: number): number => Math.ceil((maxMessageBytes * 4) / 3) + 1024 * 1024;

/** What the guard of an app holding these APIs under `prefix` ('' for a port of their own) loosens. */
export function compatGuard(options: Readonly<{ maxMessageBytes?: number; prefix?: Readonly<Record<CompatKind, string>> }> = {}): GuardOptions {
  const prefix = options.prefix ?? { mailpit: '/mailpit', mailhog: '/mailhog' };
  const send = `${prefix.mailpit}/api/v1/send`;
  const limit = sendBodyLimit(options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes);
  return {
    untypedJson: (path) => path.startsWith(`${prefix.mailhog}/`),
    maxBodyBytes: (path) => (path === send ? limit : undefined),
  };
}

export function mountCompatApis(app: Hono, options: Omit<CompatOptions, 'maxMessageBytes'> & { maxMessageBytes?: number }): void {
  const o = { ...options, maxMessageBytes: options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes };
  app.route('/mailpit', mailpitApi(o));
  app.route('/mailhog', mailhogApi(o));
}

/** One of the APIs alone, at the root: no mailwire routes, no UI. */
export function createCompatApp(kind: CompatKind, options: CompatOptions, access: HttpAccess): WebApp {
  const app = new Hono();
  const prefix = kind === 'mailpit' ? { mailpit: '', mailhog: '\0' } : { mailpit: '\0', mailhog: '' };
  guardHttp(app, access, compatGuard({ maxMessageBytes: options.maxMessageBytes, prefix }));
  const scoped = { ...options, store: requestScopedStore(options.store) }; // a workspace sees its own mail only
  app.route('/', kind === 'mailpit' ? mailpitApi(scoped) : mailhogApi(scoped));
  return { fetch: async (request, connection) => app.fetch(request, connection) };
}
