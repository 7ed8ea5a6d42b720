/**
 * Where mail goes with workspaces (issue 26), through a real server and nodemailer: AUTH as a workspace's SMTP user,
 * recipient globs, both, neither (default), a message split over several workspaces; tokens made, used and revoked
 * through the API; MailwireClient(url, { token }) scoped to one workspace.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { startMailwire, type Mailwire } from '../../src/testing/start.js';
import { MailwireClient } from '../../src/api-client/client.js';

const ADMIN = 'mw_admin-token-for-routing-tests';
const TOKEN_A = 'mw_team-a-token-for-routing-tests';
const TOKEN_B = 'mw_team-b-token-for-routing-tests';

describe('workspaces: routing and tokens', () => {
  let mw: Mailwire;
  const subjectsOf = async (token: string): Promise<string[]> =>
    (await new MailwireClient(mw.url, { token }).messages()).map((m) => `${m.subject} -> ${m.envelope.to.join(',')}`).sort();
  const send = async (subject: string, to: string[], auth?: { user: string; pass: string }): Promise<void> => {
    const t = nodemailer.createTransport({ host: mw.smtp.host, port: mw.smtp.port, secure: false, ignoreTLS: true, ...(auth ? { auth } : {}) });
    try {
      await t.sendMail({ from: 'app@x.test', to, subject, text: 'hi' });
    } finally {
      t.close();
    }
  };
  before(async () => {
    mw = await startMailwire({
      adminToken: ADMIN,
      workspaces: {
        admin: { tokens: [{ name: 'ops', token: ADMIN }] },
        workspaces: [
          { name: 'team-a', smtp: [{ user: 'team-a', password: 'a-secret' }], tokens: [{ name: 'ci', token: TOKEN_A }] },
          { name: 'team-b', recipients: ['*@b.test'], tokens: [{ name: 'ci', token: TOKEN_B }] },
        ],
      },
    });
  });
  after(async () => { await mw.close(); });

  it('routes by AUTH user, by recipient glob, both, and neither', async () => {
    await send('auth', ['x@b.test', 'y@else.test'], { user: 'team-a', pass: 'a-secret' }); // AUTH wins over globs
    await send('glob', ['bob@b.test']);
    await send('neither', ['nobody@else.test']);
    await send('split', ['bob@b.test', 'carol@else.test']); // one copy per workspace, each with its own recipients
    await mw.client.waitForMessage({ query: 'subject:split inbox:carol@else.test' });
    await mw.client.waitForMessage({ query: 'subject:split inbox:bob@b.test' });
    assert.deepEqual(await subjectsOf(TOKEN_A), ['auth -> x@b.test,y@else.test']);
    assert.deepEqual(await subjectsOf(TOKEN_B), ['glob -> bob@b.test', 'split -> bob@b.test']);
    const all = await mw.client.messages();
    assert.equal(all.length, 5, 'the admin sees every copy');
    const defaults = (await mw.client.messages({}, {})).filter((m) => !m.envelope.to.some((t) => t.endsWith('@b.test')) || m.subject === 'auth');
    assert.ok(defaults.some((m) => m.subject === 'neither'));
  });

  it('refuses a wrong SMTP password', async () => {
    await assert.rejects(send('bad', ['z@b.test'], { user: 'team-a', pass: 'wrong' }), /535|Invalid login|authentication/i);
  });

  it('makes, uses and revokes a token (rotation)', async () => {
    const made = await fetch(`${mw.url}/api/v1/workspaces/team-b/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }),
    });
    assert.equal(made.status, 201);
    const { token } = (await made.json()) as { token: string };
    assert.match(token, /^mw_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await subjectsOf(token), ['glob -> bob@b.test', 'split -> bob@b.test']);
    const again = await fetch(`${mw.url}/api/v1/workspaces/team-b/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }),
    });
    assert.equal(again.status, 409);
    const revoked = await fetch(`${mw.url}/api/v1/workspaces/team-b/tokens/laptop`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(revoked.status, 200);
    const after = await fetch(`${mw.url}/api/v1/messages`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);
    const listed = (await (await fetch(`${mw.url}/api/v1/workspaces/team-b`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { tokens: { name: string }[] };
    assert.deepEqual(listed.tokens.map((t) => t.name), ['ci']);
    assert.ok(!JSON.stringify(listed).includes(TOKEN_B), 'no secret is shown');
  });

  it('answers the workspaces API\'s bad input with the issue\'s statuses', async () => {
    const call = (method: string, path: string, body?: unknown): Promise<Response> => fetch(`${mw.url}${path}`, {
      method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.equal((await call('GET', '/api/v1/workspaces/nope')).status, 404);
    assert.equal((await call('POST', '/api/v1/workspaces', { name: 'team-a' })).status, 409);
    const bad = await call('POST', '/api/v1/workspaces', { name: 'Bad Name' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /^name: /);
    const badField = await call('POST', '/api/v1/workspaces', { name: 'team-c', retention: { maxAge: 'soon' } });
    assert.match(((await badField.json()) as { error: { message: string } }).error.message, /^retention\.maxAge: /);
    assert.equal((await call('GET', '/api/v1/workspaces/team-c')).status, 404, 'nothing half-applied');
    assert.equal((await call('DELETE', '/api/v1/workspaces/default')).status, 409);
    assert.equal((await call('DELETE', '/api/v1/workspaces/team-b')).status, 409, 'it holds mail');
    const gone = await call('DELETE', '/api/v1/workspaces/team-b?force=true');
    assert.equal(gone.status, 200);
    assert.deepEqual(await gone.json(), { deleted: 'team-b', messages: 2 });
    assert.equal((await call('POST', '/api/v1/workspaces', { name: 'team-c', recipients: ['*@c.test'] })).status, 201);
  });
});
