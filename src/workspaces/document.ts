/**
 * Workspaces as written by people (issue 26): the `--workspaces FILE` document and the API's bodies, checked whole
 * before anything is applied (a bad one names the field, e.g. `workspaces[2].smtp[0].password`), then turned into what
 * the registry keeps: passwords as bcrypt (on ../bcrypt-pool.ts's threads), tokens as SHA-256.
 *
 *   {
 *     "admin": { "tokens": [{ "name": "ops", "token": "…" }] },
 *     "workspaces": [{
 *       "name": "team-a",
 *       "smtp": [{ "user": "team-a", "password": "…" }],
 *       "tokens": [{ "name": "ci", "token": "mw_…" }, { "name": "old", "sha256": "64 hex digits" }],
 *       "recipients": ["*@team-a.test"],
 *       "retention": { "maxMessages": 1000, "maxAge": "7d" }
 *     }]
 *   }
 */
import { sharedBcryptPool } from '../bcrypt-pool.js';
import { parseDurationText } from '../duration.js';
import { isWorkspaceName, sha256Hex, type Workspace, type WorkspaceRetention, type WorkspaceSmtpUser, type WorkspaceToken } from '../store/index.js';

/** A document or body that is not as it should be: `field` is where, the message what and how to fix it. */
export class WorkspaceDocumentError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

export type TokenSpec = Readonly<{ name: string } & ({ token: string } | { sha256: string })>;
export type WorkspaceSpec = Readonly<{
  name: string;
  smtp?: readonly Readonly<{ user: string; password: string }>[];
  tokens?: readonly TokenSpec[];
  recipients?: readonly string[];
  retention?: WorkspaceRetention;
}>;
export type WorkspacesDocument = Readonly<{
  /** SHA-256 (hex) of the admin tokens. */
  adminTokens: readonly string[];
  workspaces: readonly WorkspaceSpec[];
  /** Offer AUTH to workspace users before STARTTLS too (--auth-insecure). */
  authInsecure?: boolean;
}>;

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(o: Record<string, unknown>, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new WorkspaceDocumentError(`${at}${at === '' ? '' : '.'}${k}`, `unknown field (known: ${keys.join(', ')})`);
}

function string(v: unknown, at: string, max = 1000): string {
  if (typeof v !== 'string' || v === '' || v.length > max) throw new WorkspaceDocumentError(at, `must be a non-empty string of at most ${max} characters`);
  return v;
}

function list(v: unknown, at: string, max = 1000): unknown[] {
  if (!Array.isArray(v)) throw new WorkspaceDocumentError(at, 'must be an array');
  if (v.length > max) throw new WorkspaceDocumentError(at, `holds more than ${max} entries`);
  return v;
}

export function parseName(v: unknown, at = 'name'): string {
  if (typeof v !== 'string' || !isWorkspaceName(v)) throw new WorkspaceDocumentError(at, `must be 1 to 63 of a-z, 0-9 and -, not ${JSON.stringify(v)}`);
  return v;
}

export function parseTokens(v: unknown, at: string): TokenSpec[] {
  const out: TokenSpec[] = [];
  for (const [i, t] of list(v, at).entries()) {
    const here = `${at}[${i}]`;
    if (!isObject(t)) throw new WorkspaceDocumentError(here, 'must be an object { name, token } or { name, sha256 }');
    only(t, here, ['name', 'token', 'sha256']);
    const name = string(t.name, `${here}.name`, 64);
    if (!TOKEN_NAME.test(name)) throw new WorkspaceDocumentError(`${here}.name`, 'must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"');
    if (out.some((o) => o.name === name)) throw new WorkspaceDocumentError(`${here}.name`, `a second token named ${JSON.stringify(name)}`);
    if (t.token !== undefined && t.sha256 === undefined) {
      const token = string(t.token, `${here}.token`);
      if (token.length < 16) throw new WorkspaceDocumentError(`${here}.token`, 'must be at least 16 characters (make one with: openssl rand -base64 32)');
      out.push({ name, token });
    } else if (t.sha256 !== undefined && t.token === undefined) {
      if (typeof t.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(t.sha256)) throw new WorkspaceDocumentError(`${here}.sha256`, 'must be 64 lowercase hex digits');
      out.push({ name, sha256: t.sha256 });
    } else throw new WorkspaceDocumentError(here, 'needs exactly one of token and sha256');
  }
  return out;
}

function parseRetention(v: unknown, at: string): WorkspaceRetention {
  if (!isObject(v)) throw new WorkspaceDocumentError(at, 'must be an object { maxMessages, maxAge }');
  only(v, at, ['maxMessages', 'maxAge']);
  const out: { maxMessages?: number; maxAgeMs?: number } = {};
  if (v.maxMessages !== undefined) {
    if (typeof v.maxMessages !== 'number' || !Number.isSafeInteger(v.maxMessages) || v.maxMessages < 0) {
      throw new WorkspaceDocumentError(`${at}.maxMessages`, 'must be a whole number ≥ 0 (0: no limit)');
    }
    out.maxMessages = v.maxMessages;
  }
  if (v.maxAge !== undefined) {
    const ms = typeof v.maxAge === 'string' ? parseDurationText(v.maxAge) : null;
    if (ms === null) throw new WorkspaceDocumentError(`${at}.maxAge`, `must be a duration such as "7d", "12h" or "30m", not ${JSON.stringify(v.maxAge)}`);
    out.maxAgeMs = ms;
  }
  return out;
}

/** One workspace as given (file or API); `partial`: a PATCH, where the name is not given and every field is optional. */
export function parseWorkspaceSpec(v: unknown, at = '', partial = false): WorkspaceSpec {
  const f = (k: string): string => (at === '' ? k : `${at}.${k}`);
  if (!isObject(v)) throw new WorkspaceDocumentError(at === '' ? 'body' : at, 'must be a JSON object');
  only(v, at, partial ? ['smtp', 'recipients', 'retention'] : ['name', 'smtp', 'tokens', 'recipients', 'retention']);
  const spec: { name: string; smtp?: { user: string; password: string }[]; tokens?: TokenSpec[]; recipients?: string[]; retention?: WorkspaceRetention } = {
    name: partial ? '' : parseName(v.name, f('name')),
  };
  if (v.smtp !== undefined) {
    spec.smtp = list(v.smtp, f('smtp')).map((u, i) => {
      const here = `${f('smtp')}[${i}]`;
      if (!isObject(u)) throw new WorkspaceDocumentError(here, 'must be an object { user, password }');
      only(u, here, ['user', 'password']);
      const user = string(u.user, `${here}.user`, 256);
      if (user.includes(':') || /[\s\0]/.test(user)) throw new WorkspaceDocumentError(`${here}.user`, 'must hold no colon, space or control character');
      return { user, password: string(u.password, `${here}.password`, 256) };
    });
    const users = spec.smtp.map((u) => u.user);
    const dup = users.find((u, i) => users.indexOf(u) !== i);
    if (dup !== undefined) throw new WorkspaceDocumentError(f('smtp'), `user ${JSON.stringify(dup)} is listed twice`);
  }
  if (v.tokens !== undefined) spec.tokens = parseTokens(v.tokens, f('tokens'));
  if (v.recipients !== undefined) {
    spec.recipients = list(v.recipients, f('recipients')).map((g, i) => {
      const glob = string(g, `${f('recipients')}[${i}]`, 320);
      if (!/^[^\s<>]+$/.test(glob)) throw new WorkspaceDocumentError(`${f('recipients')}[${i}]`, 'must be an address glob such as *@team-a.test');
      return glob;
    });
  }
  if (v.retention !== undefined) spec.retention = parseRetention(v.retention, f('retention'));
  return spec;
}

/** The --workspaces document: every workspace checked (names once each, SMTP users once across all) before use. */
export function parseWorkspacesDocument(text: string): WorkspacesDocument {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new WorkspaceDocumentError('(file)', `not JSON: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new WorkspaceDocumentError('(file)', 'must be a JSON object { "admin": { "tokens": […] }, "workspaces": […] }');
  only(v, '', ['admin', 'workspaces']);
  let adminTokens: string[] = [];
  if (v.admin !== undefined) {
    if (!isObject(v.admin)) throw new WorkspaceDocumentError('admin', 'must be an object { tokens }');
    only(v.admin, 'admin', ['tokens']);
    adminTokens = parseTokens(v.admin.tokens ?? [], 'admin.tokens').map((t) => ('token' in t ? sha256Hex(t.token) : t.sha256));
  }
  const workspaces = list(v.workspaces ?? [], 'workspaces').map((w, i) => parseWorkspaceSpec(w, `workspaces[${i}]`));
  const seenUsers = new Map<string, string>();
  for (const [i, w] of workspaces.entries()) {
    if (workspaces.findIndex((o) => o.name === w.name) !== i) throw new WorkspaceDocumentError(`workspaces[${i}].name`, `${w.name} is defined twice`);
    for (const u of w.smtp ?? []) {
      const other = seenUsers.get(u.user);
      if (other !== undefined) throw new WorkspaceDocumentError(`workspaces[${i}].smtp`, `user ${JSON.stringify(u.user)} already belongs to workspace ${other}`);
      seenUsers.set(u.user, w.name);
    }
  }
  return { adminTokens, workspaces };
}

const BCRYPT_COST = 10;

export async function hashSmtpUsers(users: readonly Readonly<{ user: string; password: string }>[]): Promise<WorkspaceSmtpUser[]> {
  const pool = sharedBcryptPool();
  return Promise.all(users.map(async (u) => ({ user: u.user, bcryptHash: BCRYPT.test(u.password) ? u.password : await pool.hash(u.password, BCRYPT_COST) })));
}

export function hashTokens(tokens: readonly TokenSpec[], now = new Date()): WorkspaceToken[] {
  return tokens.map((t) => ({ name: t.name, sha256: 'token' in t ? sha256Hex(t.token) : t.sha256, createdAt: now.toISOString() }));
}

/** A spec as the registry keeps it. */
export async function toWorkspace(spec: WorkspaceSpec, source: Workspace['source'], now = new Date()): Promise<Workspace> {
  return {
    name: spec.name, smtp: await hashSmtpUsers(spec.smtp ?? []), tokens: hashTokens(spec.tokens ?? [], now), recipients: spec.recipients ?? [],
    retention: spec.retention ?? {}, source, createdAt: now.toISOString(),
  };
}

/** What the API shows of a workspace: no hash of any secret. */
export function workspaceView(w: Workspace): Record<string, unknown> {
  return {
    name: w.name, smtp: w.smtp.map((u) => ({ user: u.user })), tokens: w.tokens.map((t) => ({ name: t.name, createdAt: t.createdAt })),
    recipients: w.recipients, retention: { ...(w.retention.maxMessages === undefined ? {} : { maxMessages: w.retention.maxMessages }), ...(w.retention.maxAgeMs === undefined ? {} : { maxAgeMs: w.retention.maxAgeMs }) },
    source: w.source, createdAt: w.createdAt,
  };
}
