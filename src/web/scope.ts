/**
 * Whose request this is (issue 26), and the store every route reads through. The guard (./guard.ts) decides each
 * request's scope once, before any route runs, and runs the rest of the request inside it (AsyncLocalStorage); the
 * routes are given requestScopedStore(store), which resolves every call to the handle of the current scope: the whole
 * store for an admin (or a server without workspaces), scopeStore(store, NAME) for a workspace. A call made outside any
 * request's scope throws (a 500): a route cannot read around the wall, even one added later.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './params.js';
import { scopeStore, type MessageStore } from '../store/index.js';
import type { MailwireEventMap, MailwireEventName, MailwireEvents } from '../events.js';

export type RequestScope =
  /** An admin (or anyone, on a server without workspaces): the whole store, or one workspace chosen with ?workspace=. */
  | Readonly<{ kind: 'admin'; workspace: string | null }>
  /** A workspace's token (or its name and token over Basic): that workspace only. */
  | Readonly<{ kind: 'workspace'; workspace: string }>
  /** No credentials, on the routes that need none (/healthz): the store's health only. */
  | Readonly<{ kind: 'anonymous' }>;

const scopes = new AsyncLocalStorage<RequestScope>();

export const runInScope = <T>(scope: RequestScope, f: () => T): T => scopes.run(scope, f);

export function currentScope(): RequestScope {
  const s = scopes.getStore();
  if (s === undefined) throw new Error('no request scope: the store was used outside a request that passed the guard');
  return s;
}

/**
 * For the routes that act on the whole server (faults, webhooks, workspaces, /metrics): anyone but an admin gets exactly
 * the answer of a route that does not exist (app.ts's notFound), so a workspace's token learns nothing of them.
 */
export const adminOnly: MiddlewareHandler = async (c, next) => {
  if (currentScope().kind !== 'admin') throw new HttpError(404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  await next();
};

/** The workspace the current request is bound to; null for an admin seeing every workspace. */
export function scopeWorkspace(scope: RequestScope): string | null {
  return scope.kind === 'anonymous' ? null : scope.workspace;
}

const SCOPED = Symbol('mailwire.requestScopedStore');

/** The store as the routes see it: each call goes to the current request's handle (see the top of this file). */
export function requestScopedStore(store: MessageStore): MessageStore {
  if ((store as unknown as Record<symbol, unknown>)[SCOPED] === true) return store;
  const handles = new Map<string, MessageStore>();
  const handleOf = (workspace: string): MessageStore => {
    let h = handles.get(workspace);
    if (h === undefined) {
      if (handles.size >= 1024) handles.clear(); // bounded: a handle is cheap to make again
      handles.set(workspace, (h = scopeStore(store, workspace)));
    }
    return h;
  };
  return new Proxy(store, {
    get(_target, prop) {
      if (prop === SCOPED) return true;
      const scope = currentScope();
      let target: MessageStore;
      if (scope.kind === 'anonymous') {
        if (prop !== 'health' && prop !== 'kind') throw new Error(`no request scope: ${String(prop)} needs credentials`);
        target = store;
      } else target = scope.workspace === null ? store : handleOf(scope.workspace);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The events as the routes see them: what a workspace's request emits carries that workspace (for ./routes/events.ts). */
export function requestScopedEvents(events: MailwireEvents): MailwireEvents {
  return new Proxy(events, {
    get(target, prop) {
      if (prop === 'emit') {
        return <K extends MailwireEventName>(name: K, payload: MailwireEventMap[K]): void => {
          const w = scopeWorkspace(currentScope());
          target.emit(name, w === null || payload.workspace !== undefined ? payload : { ...payload, workspace: w });
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Whether the current request may hear an event: an admin seeing every workspace hears all; a workspace only its own,
 * by the event's workspace when it carries one, else by looking the id up through the store (a deletion without one
 * is not told: the message is gone, so nothing says whose it was). Captures the scope now, for listeners called later.
 */
export function eventAudience(store: MessageStore): <K extends MailwireEventName>(name: K, payload: MailwireEventMap[K]) => Promise<boolean> {
  const scope = currentScope();
  const w = scopeWorkspace(scope);
  if (scope.kind === 'admin' && w === null) return async () => true;
  return async (name, payload) => {
    if (w === null) return false;
    if (payload.workspace !== undefined) return payload.workspace === w;
    if (name === 'message-stored') return (await store.messageWorkspace(payload.id)) === w;
    if (name === 'session-ended') return (await store.getSession(payload.id))?.connection.workspace === w;
    return false;
  };
}
