/**
 * `mailwire server --workspaces FILE` at start (issue 26): a bad document ends the start in one line naming the field;
 * workspaces with SMTP users are refused by the simplified dialect, as --auth is.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/mail.js';
import { WorkspaceDocumentError, parseWorkspacesDocument } from '../../src/workspaces/document.js';
import { globMatcher } from '../../src/store/workspace.js';

const dir = tempDir();
const file = (name: string, doc: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
};
const server = (args: string[]) => runChild(process.execPath, ['bin/mailwire.js', 'server', '--store', 'memory', '--port', '0', '--http-port', '0', '--no-pop3', '--no-imap', ...args], { timeoutMs: 60_000 });

describe('--workspaces at start', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses workspaces with SMTP users in the simplified dialect', async () => {
    const path = file('smtp.json', { workspaces: [{ name: 'team-a', smtp: [{ user: 'a', password: 'pw' }] }] });
    const r = await server(['--workspaces', path]);
    assert.equal(r.stderr, `mailwire: --workspaces ${path} has workspaces with SMTP users, which need --dialect smtp: the simplified dialect has no AUTH\n`);
    assert.equal(r.code, 1);
  });

  it('names the field of a bad document in one line', async () => {
    const path = file('bad.json', { workspaces: [{ name: 'ok' }, { name: 'Team A' }] });
    const r = await server(['--dialect', 'smtp', '--workspaces', path]);
    assert.equal(r.stderr, `--workspaces ${path}: workspaces[1].name: must be 1 to 63 of a-z, 0-9 and -, not "Team A"\n`);
    assert.equal(r.code, 1);
  });
});

describe('the workspaces document', () => {
  const fails = (doc: unknown, field: string): void => {
    assert.throws(() => parseWorkspacesDocument(JSON.stringify(doc)), (e: unknown) => e instanceof WorkspaceDocumentError && e.field === field);
  };
  it('names the field of each mistake', () => {
    fails({ workspaces: [{ name: 'a', smtp: [{ user: 'u' }] }] }, 'workspaces[0].smtp[0].password');
    fails({ workspaces: [{ name: 'a', tokens: [{ name: 't', token: 'short' }] }] }, 'workspaces[0].tokens[0].token');
    fails({ workspaces: [{ name: 'a', tokens: [{ name: 't', sha256: 'xyz' }] }] }, 'workspaces[0].tokens[0].sha256');
    fails({ workspaces: [{ name: 'a', retention: { maxAge: 'soon' } }] }, 'workspaces[0].retention.maxAge');
    fails({ workspaces: [{ name: 'a' }, { name: 'a' }] }, 'workspaces[1].name');
    fails({ workspaces: [{ name: 'a', smtp: [{ user: 'u', password: 'p' }] }, { name: 'b', smtp: [{ user: 'u', password: 'q' }] }] }, 'workspaces[1].smtp');
    fails({ workspaces: [{ name: 'a', colour: 'red' }] }, 'workspaces[0].colour');
    fails({ admin: { tokens: [{ name: 'ops' }] } }, 'admin.tokens[0]');
  });
  it('reads a good one, hashing the admin tokens', () => {
    const d = parseWorkspacesDocument(JSON.stringify({
      admin: { tokens: [{ name: 'ops', token: 'an-admin-token-of-some-length' }] },
      workspaces: [{ name: 'team-a', recipients: ['*@a.test'], retention: { maxMessages: 10, maxAge: '7d' } }],
    }));
    assert.equal(d.adminTokens[0]?.length, 64);
    assert.deepEqual(d.workspaces[0]?.retention, { maxMessages: 10, maxAgeMs: 7 * 86_400_000 });
  });
  it('matches recipient globs in linear time, case-insensitively', () => {
    const m = globMatcher('*@Team-A.test');
    assert.equal(m('bob@team-a.test'), true);
    assert.equal(m('bob@team-a.test.evil'), false);
    assert.equal(globMatcher('ci-*-run@*.test')('CI-42-run@x.test'), true);
    assert.equal(globMatcher('a*a*a')('aa'), false);
    const long = `${'a'.repeat(100_000)}b`;
    const t0 = performance.now();
    assert.equal(globMatcher('*a*a*a*a*c')(long), false);
    assert.ok(performance.now() - t0 < 200);
  });
});
