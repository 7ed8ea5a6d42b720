/**
 * A private Postfix instance for `npm run bench`: Postfix's own durable queue as a peer. smtpd on a loopback port,
 * cleanup writing and fsyncing the queue file before the 250 (Postfix's default), qmgr handing every message to the
 * discard transport. Its own config_directory and queue_directory under a temporary directory, so the machine's
 * Postfix (if configured at all) is neither read nor touched; nothing listens beyond 127.0.0.1.
 *
 * Needs the Debian package (postfix: master, smtpd, cleanup …) and root, since Postfix's master starts as root and
 * runs its daemons as the postfix user. `postfixQueueUnavailable()` says why when it cannot run.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POSTFIX = '/usr/sbin/postfix';
const DAEMONS = '/usr/lib/postfix/sbin';

/** null when a private instance can run here, else the reason it cannot. */
export function postfixQueueUnavailable(): string | null {
  if (!existsSync(POSTFIX) || !existsSync(join(DAEMONS, 'master'))) return 'Postfix is not installed (Debian: apt-get install postfix, "No configuration")';
  if (process.getuid?.() !== 0) return 'a Postfix instance needs root to start its master process';
  try {
    execFileSync('id', ['postfix'], { stdio: 'ignore' });
  } catch {
    return 'there is no postfix user';
  }
  return null;
}

export type PostfixQueue = Readonly<{ port: number; dir: string; stop: () => void }>;

/** Starts the instance on 127.0.0.1:`port` and resolves once it answers; `stop()` ends it and removes its files. */
export async function startPostfixQueue(port: number): Promise<PostfixQueue> {
  const dir = mkdtempSync(join(tmpdir(), 'mailwire-bench-postfix-'));
  chmodSync(dir, 0o755); // mkdtemp makes it 0700: the postfix user must reach its queue inside
  const etc = join(dir, 'etc');
  const data = join(dir, 'data');
  mkdirSync(etc);
  mkdirSync(join(dir, 'spool'));
  mkdirSync(data);
  const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(data, uid, 0);
  writeFileSync(join(etc, 'main.cf'), mainCf(dir));
  writeFileSync(join(etc, 'master.cf'), masterCf(port));
  const stop = (): void => {
    try {
      execFileSync(POSTFIX, ['-c', etc, 'stop'], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      killMaster(dir); // stop failed (or it never started): end the master by its PID
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync(POSTFIX, ['-c', etc, 'start'], { stdio: 'ignore', timeout: 60_000 });
  } catch (e) {
    const log = readLog(dir);
    stop();
    throw new Error(`postfix -c ${etc} start failed: ${(e as Error).message.split('\n')[0]}${log === '' ? '' : `; log: ${log}`}`);
  }
  return { port, dir, stop };
}

function killMaster(dir: string): void {
  try {
    const pid = Number(readFileSync(join(dir, 'spool', 'pid', 'master.pid'), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    // no pid file: the master never started
  }
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'maillog'), 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/** Defaults everywhere that matters for speed and durability; mail for anyone from loopback goes to discard. */
function mainCf(dir: string): string {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'spool')}`,
    `data_directory = ${join(dir, 'data')}`,
    'command_directory = /usr/sbin',
    `daemon_directory = ${DAEMONS}`,
    'meta_directory = /etc/postfix',
    'shlib_directory = /usr/lib/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'myhostname = postfix-bench.localdomain',
    'mydomain = localdomain',
    'mydestination =',
    'relayhost =',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject',
    'smtpd_recipient_restrictions = permit_mynetworks, reject',
    'default_transport = discard:',
    'relay_transport = discard:',
    'local_transport = discard:',
    'virtual_transport = discard:',
    'alias_maps =',
    'alias_database =',
    'biff = no',
    'smtpd_peername_lookup = no', // no DNS: loopback only
    'default_process_limit = 200', // 100 connections at once
    'message_size_limit = 52428800',
    `maillog_file_prefixes = ${dir}`, // the default allows only /var and /dev/stdout
    `maillog_file = ${join(dir, 'maillog')}`,
    '',
  ].join('\n');
}

/** Debian's master.cf, cut to the services a discarding instance uses, none chrooted (the queue is not in /var). */
function masterCf(port: number): string {
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup    unix  n - n 60 1 pickup',
    'cleanup   unix  n - n -  0 cleanup',
    'qmgr      unix  n - n 300 1 qmgr',
    'rewrite   unix  - - n -  - trivial-rewrite',
    'bounce    unix  - - n -  0 bounce',
    'defer     unix  - - n -  0 bounce',
    'trace     unix  - - n -  0 bounce',
    'verify    unix  - - n -  1 verify',
    'flush     unix  n - n 1000? 0 flush',
    'proxymap  unix  - - n -  - proxymap',
    'error     unix  - - n -  - error',
    'retry     unix  - - n -  - error',
    'discard   unix  - - n -  - discard',
    'anvil     unix  - - n -  1 anvil',
    'scache    unix  - - n -  1 scache',
    'postlog   unix-dgram n - n - 1 postlogd',
    '',
  ].join('\n');
}
