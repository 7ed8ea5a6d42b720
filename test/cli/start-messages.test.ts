/**
 * What `mailwire` says when something is wrong (issue 32, items 1 and 2): one line, the flag or variable named, a
 * fix, the exit code, no stack trace and no help dump; and what `mailwire server` says at start.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dialectLine, explainStartError, faultLines, nearMissWarnings, securityLine, simplifiedRefusal } from '../../src/cli/server-start.js';
import { usageLine } from '../../src/cli/main.js';
import { describeFaultRule } from '../../src/faults/describe.js';
import { queuedIdOf } from '../../src/cli/send-command.js';
import { runChild, type ChildResult } from '../helpers/child.js';
import { startProgram } from '../helpers/program.js';
import { tempDir } from '../helpers/mail.js';

/** The test run's environment without any MAILWIRE_ variable, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILWIRE_')) env[k] = v;
  return { ...env, ...extra };
}

const mailwire = (args: string[], env: Record<string, string> = {}): Promise<ChildResult> =>
  runChild(process.execPath, ['bin/mailwire.js', ...args], { env: cleanEnv(env), timeoutMs: 60_000 });

/** Exactly these stderr lines, this exit code, nothing on stdout, no stack frame, no help. */
function saysOnly(r: ChildResult, code: number, lines: string[]): void {
  assert.equal(r.stderr, lines.map((l) => `${l}\n`).join(''), r.stderr);
  assert.equal(r.code, code);
  assert.equal(r.stdout, '');
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /Usage:|Options:/, 'no help dump');
}

describe('start-up texts (pure)', () => {
  it('refuses AUTH and TLS flags for the simplified dialect, naming the flag or its variable', () => {
    const cli = (): string => 'cli';
    assert.equal(simplifiedRefusal('simplified', { auth: ['a:b'] }, cli), 'mailwire: --auth needs --dialect smtp: the simplified dialect has no AUTH');
    assert.equal(simplifiedRefusal('simplified', { auth: [], tlsPort: 4650 }, cli), 'mailwire: --tls-port needs --dialect smtp: the simplified dialect has no STARTTLS or TLS');
    assert.equal(simplifiedRefusal('simplified', { auth: [], tlsSelfSigned: true }, () => 'env'),
      'mailwire: MAILWIRE_TLS_SELF_SIGNED (--tls-self-signed) needs --dialect smtp: the simplified dialect has no STARTTLS or TLS');
    assert.equal(simplifiedRefusal('simplified', { auth: [], tlsSelfSigned: false, authInsecure: false }, cli), null, 'a switch turned off asks for nothing');
    assert.equal(simplifiedRefusal('smtp', { auth: ['a:b'], tlsCert: 'c.pem' }, cli), null);
  });

  it('says the dialect, STARTTLS and AUTH, and the fault rules in words', () => {
    assert.equal(dialectLine('simplified'), 'mailwire: simplified dialect: one recipient per message, no EHLO; applications want --dialect smtp');
    assert.equal(securityLine(false, 0, false), 'mailwire: STARTTLS off, AUTH off');
    assert.equal(securityLine(true, 1, false), 'mailwire: STARTTLS on, AUTH on (1 login, after STARTTLS)');
    assert.equal(securityLine(false, 2, true), 'mailwire: STARTTLS off, AUTH on (2 logins, also without TLS)');
    assert.deepEqual(faultLines(undefined, { seed: 0, rules: [] }), ['mailwire: no fault rules']);
    assert.deepEqual(faultLines('f.json', { seed: 7, rules: [{ on: 'rcpt', to: '*@bounce.test', every: 3, reply: '550 5.1.1 No such user', matched: 0, fired: 0 }] }), [
      'mailwire: 1 fault rule from f.json (seed 7):',
      'mailwire:   1. at RCPT TO, to *@bounce.test, every 3rd time: reply 550 5.1.1 No such user',
    ]);
    assert.equal(describeFaultRule({ on: 'data', probability: 0.25, delay: '2s', disconnect: true }), 'at DATA, 25% of the time: wait 2s, then disconnect');
    assert.equal(describeFaultRule({ on: 'mail', from: '*@x.test', rate: { max: 5, per: '1m' } , reply: '421 4.7.0 Slow down' }),
      'at MAIL FROM, from *@x.test, beyond 5 per 1m per client: reply 421 4.7.0 Slow down');
    assert.equal(describeFaultRule({ on: 'rcpt', greylist: { for: '5m' } }),
      'at RCPT TO, greylisting: the first attempt of each client, sender and recipient within 5m: reply 451 4.7.1 Greylisted, please try again later');
    assert.equal(describeFaultRule({ on: 'connect', first: 2, disconnect: true }), 'on connect, the first 2 times: disconnect');
  });

  it('names the flag and a fix for start-up failures', () => {
    const sys = (code: string, syscall: string, more: Record<string, unknown> = {}): Error => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, ...more });
    const ctx = { port: 1025, tlsPort: 4650, httpPort: 8025, dataDir: '/srv/mail' };
    assert.equal(explainStartError(sys('EADDRINUSE', 'listen', { port: 1025, address: '127.0.0.1' }), ctx), 'port 1025 is in use (another catcher?); choose --port');
    assert.equal(explainStartError(sys('EADDRINUSE', 'listen', { port: 8025 }), ctx), 'port 8025 is in use (another catcher?); choose --http-port');
    assert.equal(explainStartError(sys('EADDRINUSE', 'listen', { port: 4650 }), ctx), 'port 4650 is in use (another catcher?); choose --tls-port');
    assert.equal(explainStartError(sys('EACCES', 'listen', { port: 25 }), { port: 25 }), 'port 25 needs privileges (ports below 1024 do); choose --port 1024 or above');
    assert.equal(explainStartError(sys('EEXIST', 'mkdir', { path: '/srv/mail' }), ctx), '--data-dir /srv/mail is not a directory (/srv/mail is a file); choose another --data-dir');
    assert.equal(explainStartError(sys('EACCES', 'mkdir', { path: '/srv/mail' }), ctx), '--data-dir /srv/mail: no permission to write there (EACCES); choose a directory you own with --data-dir');
    assert.equal(explainStartError(new Error('something else'), ctx), null);
  });

  it('warns about a MAILWIRE_ variable close to a flag\'s, and about no other', () => {
    const known = ['MAILWIRE_DIALECT', 'MAILWIRE_PORT', 'MAILWIRE_HOST', 'MAILWIRE_AUTH', 'MAILWIRE_HTTP_PORT'];
    assert.deepEqual(nearMissWarnings({
      MAILWIRE_DIALCT: 'smtp', MAILWIRE_PROT: '25', MAILWIRE_PORT: '25', MAILWIRE_PASS: 'x', MAILWIRE_SEND_AUTH: 'a:b', MAILWIRE_SEND_SERVER: 'h',
      MAILWIRE_HTTP_AUTH: 'a:b', MAILWIRE_TEST_PG_URL: 'u', MAILWIRE_URL: 'u', MAILWIRE_MY_OWN_THING: '1', PATH: '/bin',
    }, known, 'server'), [
      'mailwire: warning: MAILWIRE_DIALCT is not a setting of mailwire server; did you mean MAILWIRE_DIALECT?',
      'mailwire: warning: MAILWIRE_PROT is not a setting of mailwire server; did you mean MAILWIRE_PORT?',
    ]);
  });

  it('makes a usage error one line pointing at the help', () => {
    assert.equal(usageLine('error: unknown option \'--prot\'\n(Did you mean --port?)\n', 'mailwire server'), 'error: unknown option \'--prot\' (Did you mean --port?); see `mailwire server --help`\n');
  });

  it('finds the queued id in the last reply', () => {
    assert.equal(queuedIdOf('2.0.0 OK: queued as 01JABCDEF'), '01JABCDEF');
    assert.equal(queuedIdOf('OK id=1uXyZ-000abc-2Q'), '1uXyZ-000abc-2Q');
    assert.equal(queuedIdOf('2.0.0 Message accepted'), null);
  });
});

describe('mailwire CLI errors, as a user sees them', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;
  before(async () => {
    dir = tempDir();
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const address = busy.address();
    assert.ok(address !== null && typeof address === 'object');
    busyPort = address.port;
  });
  after(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown flag: one line with the suggestion and where the help is, exit 1', async () => {
    saysOnly(await mailwire(['server', '--prot', '25']), 1, ['error: unknown option \'--prot\' (Did you mean --port?); see `mailwire server --help`']);
  });

  it('a bad port, from a flag or a variable: one line, exit 1', async () => {
    saysOnly(await mailwire(['server', '--port', 'abc']), 1, ['error: option \'--port <port>\' argument \'abc\' is invalid: a port is a whole number from 0 to 65535; see `mailwire server --help`']);
    saysOnly(await mailwire(['server'], { MAILWIRE_PORT: '99999' }), 1,
      ['error: environment variable MAILWIRE_PORT="99999" (for --port) is invalid: a port is a whole number from 0 to 65535; see `mailwire server --help`']);
  });

  it('an unknown command, and send\'s usage errors (exit 2)', async () => {
    saysOnly(await mailwire(['serve']), 1, ['error: unknown command \'serve\' (Did you mean server?); see `mailwire --help`']);
    saysOnly(await mailwire(['send', '--form', 'a@x.test']), 2, ['error: unknown option \'--form\' (Did you mean --from?); see `mailwire send --help`']);
  });

  it('the simplified dialect refuses --auth and MAILWIRE_TLS_SELF_SIGNED at start; a near-miss variable is warned about', async () => {
    saysOnly(await mailwire(['server', '--port', '0', '--store', 'memory', '--no-http', '--auth', 'a:b']), 1,
      ['mailwire: --auth needs --dialect smtp: the simplified dialect has no AUTH']);
    saysOnly(await mailwire(['server', '--port', '0', '--store', 'memory', '--no-http'], { MAILWIRE_TLS_SELF_SIGNED: 'true', MAILWIRE_DIALCT: 'smtp', MAILWIRE_SEND_AUTH: 'a:b', MAILWIRE_PASS: 'x' }), 1, [
      'mailwire: warning: MAILWIRE_DIALCT is not a setting of mailwire server; did you mean MAILWIRE_DIALECT?',
      'mailwire: MAILWIRE_TLS_SELF_SIGNED (--tls-self-signed) needs --dialect smtp: the simplified dialect has no STARTTLS or TLS',
    ]);
  });

  it('a busy port and a --data-dir that is a file: named, with the fix, exit 1', async () => {
    saysOnly(await mailwire(['server', '--port', String(busyPort), '--store', 'memory', '--no-http']), 1,
      [`mailwire: port ${busyPort} is in use (another catcher?); choose --port`]);
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    saysOnly(await mailwire(['server', '--port', '0', '--data-dir', file, '--no-http']), 1,
      [`mailwire: --data-dir ${file} is not a directory (${file} is a file); choose another --data-dir`]);
  });
});

describe('mailwire server start-up banner', () => {
  it('the simplified dialect names itself and what it means; STARTTLS, AUTH and faults off', async () => {
    const program = startProgram(['server', '--port', '0', '--store', 'memory', '--no-http'], cleanEnv());
    try {
      await program.waitFor(/mailwire: store /, 60_000);
      const lines = program.output().split('\n');
      assert.match(lines[0] ?? '', /^mailwire: simplified SMTP server listening on 127\.0\.0\.1:\d+$/);
      assert.deepEqual(lines.slice(1, 4), [
        'mailwire: simplified dialect: one recipient per message, no EHLO; applications want --dialect smtp',
        'mailwire: STARTTLS off, AUTH off',
        'mailwire: no fault rules',
      ]);
    } finally {
      await program.stop();
    }
  });

  it('the smtp dialect with a certificate, logins and a fault document says each', async () => {
    const dir = tempDir();
    const faults = join(dir, 'faults.json');
    writeFileSync(faults, JSON.stringify({ seed: 3, rules: [{ on: 'rcpt', to: '*@bounce.test', every: 3, reply: '550 5.1.1 No such user' }] }));
    const program = startProgram(['server', '--dialect', 'smtp', '--port', '0', '--store', 'memory', '--no-http', '--tls-self-signed',
      '--auth', 'a:b', '--faults', faults], cleanEnv({ MAILWIRE_AUTH: '' }));
    try {
      await program.waitFor(/mailwire: store /, 60_000);
      assert.deepEqual(program.output().split('\n').slice(1, 6), [
        'mailwire: smtp dialect: RFC 5321 with ESMTP (EHLO, many recipients per message)',
        'mailwire: STARTTLS on, AUTH on (1 login, after STARTTLS)',
        `mailwire: 1 fault rule from ${faults} (seed 3):`,
        'mailwire:   1. at RCPT TO, to *@bounce.test, every 3rd time: reply 550 5.1.1 No such user',
        'mailwire: store memory (lost at exit), keeping the newest 10000 messages, no age limit',
      ]);
    } finally {
      await program.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
