/**
 * `mailwire server` flags from MAILWIRE_<FLAG>: the mapping over every option, a bad value naming its variable, and
 * a flag winning over its variable, both on the parsed options and on the running program.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, type Option } from 'commander';
import { applyEnvironment, envNameOf } from '../../src/cli/env-options.js';
import { registerServerCommand } from '../../src/cli/server-command.js';
import { runChild } from '../helpers/child.js';
import { startProgram } from '../helpers/program.js';
import { SocketLines } from '../helpers/socket-driver.js';

/** The server command's options after `argv` and then `env`, without running it. */
function parsed(argv: string[], env: Record<string, string>): Record<string, unknown> {
  const program = new Command('mailwire');
  registerServerCommand(program);
  const server = program.commands.find((c) => c.name() === 'server');
  assert.ok(server);
  server.parseOptions(argv);
  applyEnvironment(server, env);
  return server.opts();
}

function serverOptions(): readonly Option[] {
  const program = new Command('mailwire');
  registerServerCommand(program);
  return program.commands.find((c) => c.name() === 'server')?.options ?? [];
}

/** The environment of the test run without any MAILWIRE_ variable, so that the machine's own cannot leak in. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILWIRE_')) env[k] = v;
  return { ...env, ...extra };
}

describe('mailwire server flags from the environment', () => {
  it('names each flag\'s variable MAILWIRE_<FLAG>, one per flag, --no-x as MAILWIRE_X', () => {
    const names = new Map(serverOptions().map((o) => [o.long, envNameOf(o)]));
    assert.equal(names.get('--max-message-size'), 'MAILWIRE_MAX_MESSAGE_SIZE');
    assert.equal(names.get('--dialect'), 'MAILWIRE_DIALECT');
    assert.equal(names.get('--no-http'), 'MAILWIRE_HTTP');
    assert.equal(names.get('--tls-self-signed'), 'MAILWIRE_TLS_SELF_SIGNED');
    for (const [flag, name] of names) {
      assert.equal(name, `MAILWIRE_${(flag ?? '').slice(2).replace(/^no-/, '').toUpperCase().replaceAll('-', '_')}`);
    }
    assert.equal(new Set(names.values()).size, names.size, 'no two flags share a variable');
  });

  it('takes values, switches and comma-separated lists through each flag\'s own parser', () => {
    const opts = parsed([], {
      MAILWIRE_MAX_MESSAGE_SIZE: '1MiB', MAILWIRE_DIALECT: 'smtp', MAILWIRE_HTTP: 'false', MAILWIRE_QUIET: 'yes',
      MAILWIRE_AUTH: 'alice:pw1, bob:pw2', MAILWIRE_IDLE_TIMEOUT: '30s', MAILWIRE_TLS_PORT: '4650', MAILWIRE_HOSTNAME: '',
      MAILWIRE_VERBOSE: 'false', MAILWIRE_STORE: 'memory', MAILWIRE_RELAY_AUTH: 'u:p',
    });
    assert.equal(opts['maxMessageSize'], 2 ** 20);
    assert.equal(opts['dialect'], 'smtp');
    assert.equal(opts['http'], false);
    assert.equal(opts['quiet'], true);
    assert.deepEqual(opts['auth'], ['alice:pw1', 'bob:pw2']);
    assert.equal(opts['idleTimeout'], 30_000);
    assert.equal(opts['tlsPort'], 4650);
    assert.equal(opts['hostname'], undefined, 'an empty variable counts as unset');
    assert.equal(opts['verbose'], false);
    assert.equal(opts['store'], 'memory');
    assert.equal(opts['relayAuth'], 'u:p');
    assert.equal(opts['port'], 1025, 'no variable: the default');
    assert.equal(parsed([], { MAILWIRE_HTTP: 'true' })['http'], true);
  });

  it('lets a flag on the command line win over its variable', () => {
    const opts = parsed(['--max-message-size', '2000', '--http', '--auth', 'carol:pw3', '--no-http'],
      { MAILWIRE_MAX_MESSAGE_SIZE: '1MiB', MAILWIRE_AUTH: 'alice:pw1', MAILWIRE_HTTP: 'true', MAILWIRE_PORT: '2525' });
    assert.equal(opts['maxMessageSize'], 2000);
    assert.deepEqual(opts['auth'], ['carol:pw3']);
    assert.equal(opts['http'], false);
    assert.equal(opts['port'], 2525);
  });

  it('refuses a bad value with an error naming the variable, the flag and what is expected', () => {
    const cases: [Record<string, string>, string][] = [
      [{ MAILWIRE_MAX_MESSAGE_SIZE: 'lots' }, 'environment variable MAILWIRE_MAX_MESSAGE_SIZE="lots" (for --max-message-size) is invalid: expected a size such as 1000, 64KiB or 25MiB.'],
      [{ MAILWIRE_HTTP: 'maybe' }, 'environment variable MAILWIRE_HTTP="maybe" (for --no-http) is invalid: expected true or false (or 1/0, yes/no, on/off).'],
      [{ MAILWIRE_DIALECT: 'esmtp' }, 'environment variable MAILWIRE_DIALECT="esmtp" (for --dialect) is invalid: Allowed choices are simplified, smtp.'],
      [{ MAILWIRE_PORT: '1025,2525' }, 'environment variable MAILWIRE_PORT="1025,2525" (for --port) is invalid: a port is a whole number from 0 to 65535.'],
    ];
    for (const [env, message] of cases) assert.throws(() => parsed([], env), { name: 'EnvironmentValueError', message });
  });
});

describe('the mailwire server program with MAILWIRE_ variables', () => {
  it('says so in --help, beside each flag', async () => {
    const r = await runChild(process.execPath, ['bin/mailwire.js', 'server', '--help'], { env: cleanEnv({}) });
    assert.equal(r.code, 0, r.stderr);
    const help = r.stdout.replace(/\s+/g, ' '); // as wrapped to the terminal's width
    assert.ok(help.includes('--max-message-size <bytes> largest message accepted; larger ones get 552 (default: 25MiB) [MAILWIRE_MAX_MESSAGE_SIZE]'), help);
    assert.ok(help.includes('--no-http no HTTP API [MAILWIRE_HTTP]'), help);
    assert.ok(help.includes('Every flag can also come from the environment as MAILWIRE_<FLAG>, shown in [ ] above'), help);
    assert.ok(help.includes('An empty variable counts as unset, and a flag on the command line wins over its variable.'), help);
  });

  it('exits 1 at once on a bad value, naming the variable', async () => {
    const r = await runChild(process.execPath, ['bin/mailwire.js', 'server', '--port', '0', '--store', 'memory'], { env: cleanEnv({ MAILWIRE_MAX_CONNECTIONS: '0' }) });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: environment variable MAILWIRE_MAX_CONNECTIONS="0" (for --max-connections) is invalid: expected a whole number of at least 1; see `mailwire server --help`\n');
    assert.equal(r.stdout, '');
  });

  it('runs with its settings from the environment, a flag winning', async () => {
    const program = startProgram(['--max-message-size', '3000'], cleanEnv({
      MAILWIRE_DIALECT: 'smtp', MAILWIRE_PORT: '0', MAILWIRE_STORE: 'memory', MAILWIRE_HTTP: 'false', MAILWIRE_MAX_MESSAGE_SIZE: '1000',
      MAILWIRE_MAX_MESSAGES: '7', MAILWIRE_MAX_MESSAGES_PER_INBOX: '3',
    }), [process.execPath, 'bin/mailwire.js', 'server']);
    try {
      const port = Number((await program.waitFor(/standards SMTP server listening on 127\.0\.0\.1:(\d+)/))[1]);
      await program.waitFor(/store memory \(lost at exit\), keeping the newest 7 messages, 3 per inbox,/);
      const conn = await SocketLines.open(port);
      await conn.next();
      conn.write('EHLO env.test\r\n');
      const ehlo: string[] = [];
      for (let i = 0; i < 20 && !ehlo.at(-1)?.startsWith('250 '); i++) ehlo.push((await conn.next()) ?? '(closed)');
      assert.ok(ehlo.includes('250-SIZE 3000'), ehlo.join('\n'));
      conn.write('QUIT\r\n');
      await conn.next();
      assert.equal(await program.stop(), 0);
      assert.doesNotMatch(program.output(), /web UI/);
    } finally {
      await program.stop();
    }
  });
});
