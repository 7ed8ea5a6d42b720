/**
 * /api/v1/workspaces (issue 26): admins list, make, change and delete workspaces, and make and revoke their tokens.
 * A workspace's own token gets the answer of a route that does not exist here (404): it learns of no other workspace.
 * A new token is shown once, in the answer that makes it; only its SHA-256 is kept.
 */
import type { Context, Hono } from 'hono';
import { DEFAULT_WORKSPACE, newToken, scopeStore, type MessageStore, type Workspace } from '../../store/index.js';
import type { WorkspaceDirectory } from '../../workspaces/directory.js';
import {
  WorkspaceDocumentError, hashSmtpUsers, hashTokens, parseTokens, parseWorkspaceSpec, toWorkspace, workspaceView,
} from '../../workspaces/document.js';
import { HttpError } from '../params.js';
import { adminOnly } from '../scope.js';
import type { WebContext } from './context.js';

export function mountWorkspaceRoutes(app: Hono, _ctx: WebContext, dir: WorkspaceDirectory, store: MessageStore): void {
  app.use('/api/v1/workspaces', adminOnly);
  app.use('/api/v1/workspaces/*', adminOnly);
  const body = async (c: Context): Promise<unknown> => {
    try {
      return await c.req.json();
    } catch {
      throw new HttpError(400, 'bad_request', 'body: must be JSON');
    }
  };
  const checked = async <T>(f: () => T | Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof WorkspaceDocumentError) throw new HttpError(400, 'bad_request', e.message);
      throw e;
    }
  };
  const existing = async (name: string): Promise<Workspace> => {
    const w = await dir.get(name);
    if (w === null) throw new HttpError(404, 'not_found', `no workspace ${JSON.stringify(name)}`);
    return w;
  };
  /** SMTP users are unique across workspaces: the user names which workspace a login's mail goes to. */
  const userTaken = async (users: readonly { user: string }[], except: string): Promise<void> => {
    for (const w of await dir.list()) {
      if (w.name === except) continue;
      const clash = w.smtp.find((u) => users.some((x) => x.user === u.user));
      if (clash !== undefined) throw new HttpError(409, 'conflict', `smtp user ${JSON.stringify(clash.user)} belongs to workspace ${w.name}`);
    }
  };
  const save = async (w: Workspace): Promise<void> => {
    await store.workspaces.put(w);
    await dir.reload();
  };

  app.get('/api/v1/workspaces', async (c) => {
    return c.json({ workspaces: (await dir.list()).map(workspaceView) });
  });

  app.post('/api/v1/workspaces', async (c) => {
    const spec = await checked(async () => parseWorkspaceSpec(await body(c)));
    if ((await dir.get(spec.name)) !== null) throw new HttpError(409, 'conflict', `workspace ${spec.name} exists`);
    await userTaken(spec.smtp ?? [], spec.name);
    const w = await toWorkspace(spec, 'api');
    await save(w);
    return c.json(workspaceView(w), 201);
  });

  app.get('/api/v1/workspaces/:name', async (c) => {
    return c.json(workspaceView(await existing(c.req.param('name'))));
  });

  app.patch('/api/v1/workspaces/:name', async (c) => {
    const w = await existing(c.req.param('name'));
    const spec = await checked(async () => parseWorkspaceSpec(await body(c), '', true));
    if (spec.smtp !== undefined) await userTaken(spec.smtp, w.name);
    const next: Workspace = {
      ...w, source: w.source === 'builtin' ? 'api' : w.source,
      ...(spec.smtp === undefined ? {} : { smtp: await hashSmtpUsers(spec.smtp) }),
      ...(spec.recipients === undefined ? {} : { recipients: spec.recipients }),
      ...(spec.retention === undefined ? {} : { retention: spec.retention }),
    };
    await save(next);
    return c.json(workspaceView(next));
  });

  app.delete('/api/v1/workspaces/:name', async (c) => {
    const w = await existing(c.req.param('name'));
    if (w.name === DEFAULT_WORKSPACE) throw new HttpError(409, 'conflict', 'the default workspace cannot be deleted');
    const scoped = scopeStore(store, w.name);
    const held = (await scoped.listMessages({ limit: 1 })).items.length;
    if (held > 0 && c.req.query('force') !== 'true') {
      throw new HttpError(409, 'conflict', `workspace ${w.name} holds mail: add ?force=true to delete it with its mail`);
    }
    const deleted = held > 0 ? await scoped.deleteMessages('') : [];
    await store.workspaces.delete(w.name);
    await dir.reload();
    return c.json({ deleted: w.name, messages: deleted.length });
  });

  app.post('/api/v1/workspaces/:name/tokens', async (c) => {
    const w = await existing(c.req.param('name'));
    // { "name": "ci" } makes a token (shown once); { "name": "ci", "token": "…" } keeps one given (a CI secret).
    const input = await body(c);
    const [spec] = await checked(() => parseTokens([typeof input === 'object' && input !== null && !('token' in input) ? { ...input, token: newToken() } : input], 'body'));
    if (spec === undefined || !('token' in spec)) throw new HttpError(400, 'bad_request', 'body: must be { "name": "…" } or { "name": "…", "token": "…" }');
    if (w.tokens.some((t) => t.name === spec.name)) throw new HttpError(409, 'conflict', `workspace ${w.name} has a token named ${spec.name}; revoke it first to rotate`);
    const token = spec.token;
    const [hashed] = hashTokens([spec]);
    if (hashed === undefined) throw new HttpError(500, 'internal', 'token not made');
    await save({ ...w, source: w.source === 'builtin' ? 'api' : w.source, tokens: [...w.tokens, hashed] });
    return c.json({ workspace: w.name, name: spec.name, token, createdAt: hashed.createdAt }, 201);
  });

  app.delete('/api/v1/workspaces/:name/tokens/:token', async (c) => {
    const w = await existing(c.req.param('name'));
    const name = c.req.param('token');
    if (!w.tokens.some((t) => t.name === name)) throw new HttpError(404, 'not_found', `workspace ${w.name} has no token named ${JSON.stringify(name)}`);
    await save({ ...w, tokens: w.tokens.filter((t) => t.name !== name) });
    return c.json({ workspace: w.name, revoked: name });
  });
}

