import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import type { Authenticator } from '../../src/smtp/core/types.js';
import { tempDir } from '../helpers/mail.js';
import { startProgram, type Program } from '../helpers/program.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';

const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');

describe('SMTP AUTH with an --auth-file of bcrypt hashes', () => {
  let dir: string;
  let p: Program;
  let port: number;
  before(async () => {
    dir = tempDir();
    const file = join(dir, 'logins');
    // htpasswd -B writes $2y$; bcryptjs writes $2b$: both are read.
    writeFileSync(file, `# logins\nalice:${bcrypt.hashSync('s3cret:pw', 4).replace(/^\$2b\$/, '$2y$')}\nbob:plain-pw\n`);
    p = startProgram(['server', '--dialect', 'smtp', '--port', '0', '--store', 'memory', '--no-http', '--auth-file', file, '--auth-insecure']);
    port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
  });
  after(async () => {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const session = async (...lines: string[]): Promise<string[]> => {
    const conn = await SocketLines.open(port);
    await conn.next();
    conn.write('EHLO c.test\r\n');
    for (let l = await conn.next(); l !== null && !l.startsWith('250 '); l = await conn.next());
    const got: string[] = [];
    for (const line of lines) {
      conn.write(`${line}\r\n`);
      got.push((await conn.next()) ?? '(closed)');
    }
    conn.socket.destroy();
    return got;
  };

  it('accepts the password whose hash is in the file, and a plain line beside it', async () => {
    assert.deepEqual(await session(`AUTH PLAIN ${plain('alice', 's3cret:pw')}`, 'MAIL FROM:<a@b.test>'),
      ['235 2.7.0 Authentication successful', '250 2.1.0 Sender OK']);
    assert.deepEqual(await session(`AUTH PLAIN ${plain('bob', 'plain-pw')}`), ['235 2.7.0 Authentication successful']);
  });

  it('refuses a wrong password, the hash itself as a password, and an unknown user', async () => {
    assert.deepEqual(await session(`AUTH PLAIN ${plain('alice', 's3cret:pW')}`), ['535 5.7.8 Authentication credentials invalid']);
    assert.deepEqual(await session(`AUTH PLAIN ${plain('mallory', 's3cret:pw')}`), ['535 5.7.8 Authentication credentials invalid']);
  });
});

describe('SMTP AUTH with an asynchronous verifier', () => {
  it('waits for the answer before reading the pipelined commands after AUTH, and keeps their order', async () => {
    const asked: string[] = [];
    const auth: Authenticator = {
      allowInsecure: true,
      verify: (user, password) => new Promise((resolve) => {
        asked.push(`${user}/${password}`);
        setImmediate(() => resolve(user === 'carol' && password === 'pw'));
      }),
    };
    const t = await startTestServer({ dialect: smtpDialect, auth });
    try {
      const conn = await SocketLines.open(t.server.port);
      await conn.next();
      conn.write(`EHLO c.test\r\nAUTH PLAIN ${plain('carol', 'nope')}\r\nAUTH PLAIN ${plain('carol', 'pw')}\r\nMAIL FROM:<a@b.test>\r\n`);
      for (let l = await conn.next(); l !== null && !l.startsWith('250 '); l = await conn.next());
      assert.deepEqual([await conn.next(), await conn.next(), await conn.next()],
        ['535 5.7.8 Authentication credentials invalid', '235 2.7.0 Authentication successful', '250 2.1.0 Sender OK']);
      assert.deepEqual(asked, ['carol/nope', 'carol/pw']);
      conn.socket.destroy();
    } finally {
      await t.server.close(2000);
    }
  });
});
