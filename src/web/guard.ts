/**
 * Who may use the HTTP API and UI, and what a request may carry: the checks every request passes before a route
 * sees it. Anything on the machine's browser can reach a loopback port, so loopback alone proves little:
 *  - Host (DNS rebinding): a page whose own name an attacker rebinds to 127.0.0.1 sends its name as Host; only
 *    localhost, loopback addresses, the bound address and --http-allowed-hosts are served (403 otherwise). A
 *    `*.localhost` name is served only when listed: every such name reaches this machine, so a page on one of them
 *    (another local app's) is not ours.
 *  - HTTP Basic (--http-auth-file): a browser sends cached credentials with the UI's own fetches and EventSource.
 *    Failures count per client address (../net/login-limiter.ts): past the allowance, 429 with Retry-After, no
 *    check made; bcrypt runs on worker threads (../bcrypt-pool.ts), and 503 with Retry-After when they are all busy.
 *  - Origin: a request that changes state (POST, PUT, PATCH, DELETE) from a page of another origin, or that the
 *    browser marks `Sec-Fetch-Site: cross-site`, gets 403.
 *  - Content type: a body must be application/json (415 otherwise): a cross-origin JSON request needs a CORS
 *    preflight, which this API never grants, and a form post cannot send one.
 *  - Size: a body over 1 MiB gets 413, before any of it is parsed.
 * The Mailpit and MailHog compatible APIs (./compat) loosen two of these where their clients need it (GuardOptions).
 * Errors have the API's usual shape, `{ error: { code, message } }`.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { PasswordCheck } from '../credentials.js';
import type { AddressList } from '../net/ip-address.js';
import { LoginLimiter, type LoginVerdict } from '../net/login-limiter.js';
import { clientAddressOf } from './client-address.js';
import { runInScope, type RequestScope } from './scope.js';
import type { WorkspaceDirectory } from '../workspaces/directory.js';
import { logWarning } from '../log.js';

/** What the HTTP side trusts. */
export type HttpAccess = Readonly<{
  /**
   * Host names (no port) served besides the loopback ones: the bound address and --http-allowed-hosts. 'any' turns
   * the Host check off (createWebApp's default, for embedding behind a socket that does its own checks).
   */
  hosts: readonly string[] | 'any';
  /** HTTP Basic logins (--http-auth-file); absent: no authentication. */
  users?: PasswordCheck;
  /** Failed logins per client address (shared with SMTP AUTH when the same one is given); default: one of its own. */
  limiter?: LoginLimiter;
  /** Proxies whose X-Forwarded-For names the client whose failures count (--trusted-proxies). */
  trustedProxies?: AddressList;
  /**
   * The server has workspaces (issue 26): every request needs a workspace's token (Bearer, or Basic with the
   * workspace's name as user), an admin token, or an admin login of `users`; absent: every request is an admin's.
   */
  workspaces?: WorkspaceDirectory;
}>;

const MAX_BODY_BYTES = 1024 * 1024;
/** Methods that change state; the API's GETs only read. */
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** How many verified Authorization headers are remembered, so bcrypt runs once per login, not once per request. */
const VERIFIED_CACHE = 64;
/** How many wrong ones: a browser repeating a stale login with each of its requests costs one check and one failure. */
const REFUSED_CACHE = 256;

const fail = (c: Context, status: ContentfulStatusCode, code: string, message: string, headers: Record<string, string> = {}): Response =>
  c.json({ error: { code, message } }, status, headers);

/** A name or address that can only mean this machine: localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    const canonical = new URL(`http://[${h}]/`).hostname; // "[::1]", "[::ffff:7f00:1]" for ::ffff:127.0.0.1
    return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
  }
  return false;
}

/** The hostname of a Host header value ("a.test:8025", "[::1]:8025"), lowercased, without a trailing dot. */
export function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (bracketed) return bracketed[1] ?? '';
  const colon = h.indexOf(':');
  // A bare IPv6 address has several colons and no port.
  const name = colon !== -1 && h.indexOf(':', colon + 1) === -1 ? h.slice(0, colon) : h;
  return name.replace(/\.$/, '');
}

/** The names served, as said at start: loopback, the bound address (unless a wildcard), and the allowed ones. */
export function allowedHosts(boundHost: string, extra: readonly string[]): string[] {
  const bound = hostnameOf(boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost);
  const wildcard = bound === '0.0.0.0' || bound === '::' || bound === '';
  return [...new Set([...(wildcard || isLoopbackHost(bound) ? [] : [bound]), ...extra.map((h) => hostnameOf(h))])];
}

/**
 * Binding the HTTP side where others can reach it, with nothing to stop them reading, deleting and releasing the
 * mail, is refused unless the operator says the network is trusted; so is taking HTTP Basic passwords there over
 * plain HTTP, where anyone on the path reads them. Returns the reason, or null when it is fine.
 */
export function exposureProblem(boundHost: string, auth: boolean, insecure: boolean, tls = false): string | null {
  if (insecure || isLoopbackHost(boundHost)) return null;
  if (auth && !tls) {
    return `refusing to take --http-auth-file passwords on ${boundHost} over plain HTTP: they would cross the network in clear. ` +
      'Add --http-tls-cert/--http-tls-key or --http-tls-self-signed, or --http-insecure if every host on that network is trusted';
  }
  if (auth) return null;
  return `refusing to serve the HTTP API and UI on ${boundHost} without authentication: anyone who can reach that address ` +
    'could read, delete and release the mail. Give --http-auth-file (htpasswd bcrypt lines; with --http-tls-cert/--http-tls-key ' +
    'or --http-tls-self-signed so passwords do not cross the network in clear), or --http-insecure if every host on that network is trusted';
}

/** Where the compatible APIs (./compat) need the checks loosened; each is asked with the request's path. */
export type GuardOptions = Readonly<{
  /**
   * Paths that take a JSON body sent with no Content-Type (the `mailhog` npm package sends its bodies so). Allowed
   * only when the request has no Origin and no `Sec-Fetch-Site: cross-site`: a browser page can send an untyped
   * body without a preflight, but a browser always says where the request came from.
   */
  untypedJson?: (path: string) => boolean;
  /** A larger body limit for some paths (Mailpit's send takes a whole message); undefined: the API's 1 MiB. */
  maxBodyBytes?: (path: string) => number | undefined;
}>;

/** Installs the checks, in order: Host, authentication, Origin, content type, size. */
export function guardHttp(app: Hono, access: HttpAccess, options: GuardOptions = {}): void {
  app.use('*', hostCheck(access.hosts));
  if (access.workspaces !== undefined) {
    app.use('*', workspaceAuth(access.workspaces, access.users, access.limiter ?? new LoginLimiter(), access.trustedProxies));
  } else {
    if (access.users !== undefined) app.use('*', basicAuth(access.users, access.limiter ?? new LoginLimiter(), access.trustedProxies));
    // No workspaces: whoever passed is an admin, as before workspaces existed (see ./scope.ts).
    const admin: RequestScope = { kind: 'admin', workspace: null };
    app.use('*', async (_c, next) => runInScope(admin, next));
  }
  app.use('*', sameOriginWrites(options.untypedJson ?? (() => false)));
  const limitOf = (max: number): MiddlewareHandler => bodyLimit({
    maxSize: max,
    onError: (c) => fail(c, 413, 'too_large', `the request body is over ${max} bytes`),
  });
  const limit = limitOf(MAX_BODY_BYTES);
  const larger = new Map<number, MiddlewareHandler>();
  // A GET or HEAD is never given a body to read (the Fetch API has none for them), and asking for one made the Node
  // adapter build the whole Request: 290 µs of the SMTP thread per search, a third of the search's time there.
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const max = options.maxBodyBytes?.(c.req.path);
    if (max === undefined) return limit(c, next);
    let m = larger.get(max);
    if (m === undefined) larger.set(max, (m = limitOf(max)));
    return m(c, next);
  });
}

function hostCheck(hosts: HttpAccess['hosts']): MiddlewareHandler {
  if (hosts === 'any') return async (_c, next) => next();
  const allowed = new Set(hosts.map((h) => hostnameOf(h)));
  // RFC 6761 makes every *.localhost loopback, so any local app may live on one: served only when listed.
  const ok = (name: string): boolean => allowed.has(name) || (isLoopbackHost(name) && !name.endsWith('.localhost'));
  return async (c, next) => {
    // Both the Host header and the request target (an absolute-form target names its own host) must be ours.
    const header = c.req.header('host');
    const urlHost = new URL(c.req.url).hostname;
    for (const name of [header === undefined ? null : hostnameOf(header), hostnameOf(urlHost)]) {
      if (name !== null && !ok(name)) {
        return fail(c, 403, 'host_not_allowed',
          `Host ${JSON.stringify(name)} is not served here (DNS rebinding protection); start the server with --http-allowed-hosts ${name} to allow it`);
      }
    }
    return next();
  };
}

/** Adds `key` to a set used as a bounded memory, oldest forgotten first. */
const remember = (set: Set<string>, key: string, max: number): void => {
  set.add(key);
  if (set.size > max) set.delete(set.values().next().value ?? '');
};

function basicAuth(check: PasswordCheck, limiter: LoginLimiter, trusted: AddressList | undefined): MiddlewareHandler {
  // Remembered by a hash of the header, never the password itself; bounded, oldest forgotten first.
  const verified = new Set<string>();
  const refused = new Set<string>();
  // The same header from the same client while its check runs (a page's parallel fetches) waits for that check.
  const checking = new Map<string, Promise<LoginVerdict>>();
  const challenge = { 'WWW-Authenticate': 'Basic realm="mailwire", charset="UTF-8"' };
  const wrong = (c: Context): Response => fail(c, 401, 'unauthorized', 'wrong user name or password', challenge);
  return async (c, next) => {
    if (c.req.path === '/healthz') return next(); // for load balancers without credentials: status and store health, no mail
    const header = c.req.header('authorization') ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m === null) return fail(c, 401, 'unauthorized', 'this server needs a user name and password (HTTP Basic)', challenge);
    const key = createHash('sha256').update(header).digest('base64');
    if (verified.has(key)) return next();
    if (refused.has(key)) return wrong(c);
    const client = clientAddressOf(c, trusted);
    const asked = `${client} ${key}`;
    let verdict = checking.get(asked);
    if (verdict === undefined) {
      const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      verdict = limiter.attempt(client, () => colon > 0 && check(decoded.slice(0, colon), decoded.slice(colon + 1)));
      checking.set(asked, verdict);
      void verdict.finally(() => checking.delete(asked)).catch(() => {});
    }
    const v = await verdict;
    switch (v.kind) {
      case 'ok':
        remember(verified, key, VERIFIED_CACHE);
        return next();
      case 'wrong':
        remember(refused, key, REFUSED_CACHE);
        return wrong(c);
      case 'throttled':
        return fail(c, 429, 'too_many_logins',
          `too many failed logins from ${client}; try again in ${v.retryAfterSeconds} s`, { 'Retry-After': String(v.retryAfterSeconds) });
      case 'busy':
        return fail(c, 503, 'busy', `too many logins being checked; try again in ${v.retryAfterSeconds} s`, { 'Retry-After': String(v.retryAfterSeconds) });
    }
  };
}

/**
 * Authentication with workspaces (issue 26): `Bearer TOKEN` (a workspace's or an admin's), or Basic with a workspace's
 * name and one of its tokens (for clients that only send Basic: the Mailpit and MailHog packages), or Basic with an
 * admin login of --http-auth-file. Tokens are compared as SHA-256 in constant time (../workspaces/directory.ts);
 * wrong ones count as failed logins of the client (the shared limiter: past its allowance 429, unchecked). A refusal
 * is one log line naming the client, never the secret. The request then runs in its scope (./scope.ts); an admin picks
 * a workspace with `?workspace=NAME`.
 */
function workspaceAuth(dir: WorkspaceDirectory, users: PasswordCheck | undefined, limiter: LoginLimiter, trusted: AddressList | undefined): MiddlewareHandler {
  const challenge = { 'WWW-Authenticate': 'Bearer realm="mailwire", Basic realm="mailwire", charset="UTF-8"' };
  // Admin logins (bcrypt) remembered by a hash of the header, as basicAuth does; tokens are cheap and never cached.
  const verifiedAdmins = new Set<string>();
  return async (c, next) => {
    if (c.req.path === '/healthz') return runInScope({ kind: 'anonymous' }, next);
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (bearer === null && basic === null) {
      return fail(c, 401, 'unauthorized', 'this server has workspaces: send a token (Authorization: Bearer TOKEN) or a user name and password', challenge);
    }
    const client = clientAddressOf(c, trusted);
    let owner: { kind: 'admin' } | { kind: 'workspace'; workspace: string } | null = null;
    const key = createHash('sha256').update(header).digest('base64');
    if (basic !== null && verifiedAdmins.has(key)) owner = { kind: 'admin' };
    else {
      const v = await limiter.attempt(client, async () => {
        if (bearer !== null) owner = await dir.tokenOwner(bearer[1] ?? '');
        else {
          const decoded = Buffer.from(basic?.[1] ?? '', 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          if (colon <= 0) return false;
          const user = decoded.slice(0, colon);
          const secret = decoded.slice(colon + 1);
          owner = (await dir.get(user)) === null ? null : await dir.tokenOwner(secret, user);
          if (owner === null && users !== undefined && (await users(user, secret))) {
            owner = { kind: 'admin' };
            remember(verifiedAdmins, key, VERIFIED_CACHE);
          }
        }
        return owner !== null;
      });
      switch (v.kind) {
        case 'ok':
          break;
        case 'wrong':
          logWarning(`mailwire web: refused a ${bearer !== null ? 'token' : 'login'} from ${client} for ${c.req.method} ${c.req.path}`);
          return fail(c, 401, 'unauthorized', bearer !== null ? 'unknown or revoked token' : 'wrong user name, workspace or password', challenge);
        case 'throttled':
          return fail(c, 429, 'too_many_logins',
            `too many failed logins from ${client}; try again in ${v.retryAfterSeconds} s`, { 'Retry-After': String(v.retryAfterSeconds) });
        case 'busy':
          return fail(c, 503, 'busy', `too many logins being checked; try again in ${v.retryAfterSeconds} s`, { 'Retry-After': String(v.retryAfterSeconds) });
      }
    }
    const who = owner as { kind: 'admin' } | { kind: 'workspace'; workspace: string } | null;
    if (who === null) return fail(c, 401, 'unauthorized', 'unknown or revoked token', challenge);
    let scope: RequestScope;
    if (who.kind === 'workspace') scope = { kind: 'workspace', workspace: who.workspace };
    else {
      const pick = c.req.query('workspace');
      if (pick !== undefined && (await dir.get(pick)) === null) return fail(c, 404, 'not_found', `no workspace ${JSON.stringify(pick)}`);
      scope = { kind: 'admin', workspace: pick ?? null };
    }
    return runInScope(scope, next);
  };
}

const sameOriginWrites = (untypedJson: (path: string) => boolean): MiddlewareHandler => async (c, next) => {
  if (!UNSAFE.has(c.req.method)) return next();
  // Fetch Metadata: the browser itself says the request comes from another site (also where it sends no Origin).
  if (c.req.header('sec-fetch-site')?.trim().toLowerCase() === 'cross-site') {
    return fail(c, 403, 'cross_site', `${c.req.method} from another site (Sec-Fetch-Site: cross-site) is refused`);
  }
  const origin = c.req.header('origin');
  // Browsers send Origin with every POST, PUT, PATCH and DELETE; "null" comes from sandboxed frames and data: URLs.
  if (origin !== undefined && origin !== new URL(c.req.url).origin) {
    return fail(c, 403, 'cross_origin', `${c.req.method} from another origin (${origin}) is refused`);
  }
  const type = c.req.header('content-type');
  const length = c.req.header('content-length');
  const hasBody = c.req.header('transfer-encoding') !== undefined || (length !== undefined && length !== '0') || type !== undefined;
  const untypedAllowed = type === undefined && origin === undefined && c.req.header('sec-fetch-site') !== 'cross-site' && untypedJson(c.req.path);
  if (hasBody && !untypedAllowed) {
    const mediaType = (type ?? '').split(';', 1)[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return fail(c, 415, 'unsupported_media_type', `a request body must be application/json, not ${type === undefined ? 'untyped' : JSON.stringify(type)}`);
    }
  }
  return next();
};
