/** The HTTP side as the server program sets it up: refusal to expose mail, Host names served, HTTPS with a login. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { tempDir } from '../helpers/mail.js';
import { startProgram, type Program } from '../helpers/program.js';

/** The exit code of a program that should stop on its own; SIGKILL and a failure after the deadline. */
async function exitOf(child: Program['child'], ms = 15_000): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the program did not exit within ${ms} ms`));
    }, ms);
  });
  try {
    const [code] = await Promise.race([once(child, 'exit') as Promise<[number | null]>, deadline]);
    return code;
  } finally {
    clearTimeout(timer);
  }
}

type Got = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One request with a Host header of our choosing (fetch would not let us set it), bounded by a deadline. */
function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(u, { headers, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTP side of the server program', () => {
  it('refuses to start with the HTTP API on a non-loopback address without a login, and says why', async () => {
    // 192.0.2.1 (TEST-NET-1) is not on this machine: nothing is ever bound there, whatever the outcome.
    const p = startProgram(['server', '--port', '0', '--store', 'memory', '--http-host', '192.0.2.1', '--http-port', '0']);
    const code = await exitOf(p.child);
    assert.equal(code, 1, p.output());
    assert.match(p.output(), /^mailwire: refusing to serve the HTTP API and UI on 192\.0\.2\.1 without authentication: anyone who can reach that address could read, delete and release the mail\. Give --http-auth-file .* or --http-insecure if every host on that network is trusted\n$/);
    assert.doesNotMatch(p.output(), /listening/);
  });

  it('refuses --http-auth-file on a non-loopback address over plain HTTP, in one line naming the flags', async () => {
    const dir = tempDir();
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `ops:${bcrypt.hashSync('pw', 4)}\n`);
    try {
      const p = startProgram(['server', '--port', '0', '--store', 'memory', '--http-host', '192.0.2.1', '--http-port', '0', '--http-auth-file', file]);
      assert.equal(await exitOf(p.child), 1, p.output());
      assert.equal(p.output(), 'mailwire: refusing to take --http-auth-file passwords on 192.0.2.1 over plain HTTP: they would cross the network in clear. ' +
        'Add --http-tls-cert/--http-tls-key or --http-tls-self-signed, or --http-insecure if every host on that network is trusted\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an --http-auth-file line without a bcrypt hash, naming the file and the line', async () => {
    const dir = tempDir();
    const file = join(dir, 'htpasswd');
    writeFileSync(file, '# ops\nops:plain-text\n');
    try {
      const p = startProgram(['server', '--port', '0', '--store', 'memory', '--http-port', '0', '--http-auth-file', file]);
      assert.equal(await exitOf(p.child), 1, p.output());
      assert.equal(p.output(), `--http-auth-file ${file}: line 2: user "ops" has no bcrypt hash ($2y$…); only bcrypt is supported: make one with "htpasswd -nbB user password"\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the Host names it answers, and answers only those (DNS rebinding)', async () => {
    const p = startProgram(['server', '--port', '0', '--store', 'memory', '--http-port', '0', '--http-allowed-hosts', 'mail.lan, box.lan']);
    try {
      const port = Number((await p.waitFor(/HTTP API on http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
      await p.waitFor(/^mailwire: HTTP answers Host localhost, 127\.0\.0\.0\/8, \[::1\], mail\.lan, box\.lan; no login$/m);
      const api = `http://127.0.0.1:${port}/api/v1/messages`;
      assert.equal((await get(api)).status, 200);
      assert.equal((await get(api, { host: `mail.lan:${port}` })).status, 200);
      const rebound = await get(api, { host: `attacker.example:${port}` });
      assert.equal(rebound.status, 403);
      assert.equal(JSON.parse(rebound.body).error.code, 'host_not_allowed');
    } finally {
      await p.stop();
    }
  });

  it('serves HTTPS with a self-signed certificate and asks for the login of --http-auth-file', async () => {
    const dir = tempDir();
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `ops:${bcrypt.hashSync('let me in', 4).replace(/^\$2b\$/, '$2y$')}\n`);
    const p = startProgram(['server', '--port', '0', '--store', 'memory', '--http-port', '0', '--http-tls-self-signed', '--http-auth-file', file]);
    try {
      const port = Number((await p.waitFor(/HTTP API on https:\/\/127\.0\.0\.1:(\d+)\//))[1]);
      const api = `https://127.0.0.1:${port}/api/v1/messages`;
      const anonymous = await get(api);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="mailwire", charset="UTF-8"');
      assert.equal((await get(api, { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` })).status, 401);
      const ok = await get(api, { authorization: `Basic ${Buffer.from('ops:let me in').toString('base64')}` });
      assert.equal(ok.status, 200);
      assert.deepEqual(JSON.parse(ok.body), { messages: [], nextCursor: null });
    } finally {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
