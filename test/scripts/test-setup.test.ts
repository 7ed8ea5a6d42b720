/**
 * scripts/test-setup.sh, `npm test`'s pretest, on a machine made up for the test: a PATH of stubs in which each
 * Debian package is there or not, `id -u` says root or not, and apt-get is a stub that records its arguments and
 * "installs" a package by creating its command. The real apt-get is never run.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runChild } from '../helpers/child.js';

const SCRIPT = 'scripts/test-setup.sh';
const ALL = ['chromium', 'fonts-noto-color-emoji', 'fonts-noto-cjk', 'swaks', 'libnet-ssleay-perl', 'haproxy', 'python3', 'curl', 'procps', 'spamd', 'rspamd', 'isync', 'getmail6'] as const;
/**
 * The command by which the script recognises each package (libnet-ssleay-perl: perl can load Net::SSLeay), or for a
 * font the marker by which the fc-list stub lists its family.
 */
const COMMAND: Record<(typeof ALL)[number], string> = {
  chromium: 'chromium', 'fonts-noto-color-emoji': 'font-emoji', 'fonts-noto-cjk': 'font-cjk', swaks: 'swaks', 'libnet-ssleay-perl': 'net-ssleay',
  haproxy: 'haproxy', python3: 'python3', curl: 'curl', procps: 'free', spamd: 'spamd', rspamd: 'rspamd', isync: 'mbsync', getmail6: 'getmail',
};

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function stub(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

/** A machine with these packages installed, as root or not, with apt-get or not. */
function machine(installed: readonly (typeof ALL)[number][], opts: { uid: number; apt: boolean }): { bin: string; log: string } {
  const bin = mkdtempSync(join(tmpdir(), 'mailwire-setup-'));
  dirs.push(bin);
  const log = join(bin, 'apt.log');
  stub(bin, 'id', `echo ${opts.uid}`);
  // perl -MNet::SSLeay -e 1 succeeds once the stand-in for the Perl module exists.
  stub(bin, 'perl', `[ -e "${join(bin, 'net-ssleay')}" ]`);
  for (const p of installed) stub(bin, COMMAND[p], 'exit 0');
  // fc-list lists the families of the fonts installed (fc-list : family prints one a line).
  stub(bin, 'fc-list', `[ -e "${join(bin, 'font-emoji')}" ] && echo 'Noto Color Emoji'\n[ -e "${join(bin, 'font-cjk')}" ] && echo 'Noto Sans CJK JP,Noto Sans CJK JP Regular'\nexit 0`);
  // PostgreSQL answers (the script asks pg_isready when there is one).
  stub(bin, 'pg_isready', 'exit 0');
  if (opts.apt) {
    const installs = ALL.map((p) => `${p}) touch "${join(bin, COMMAND[p])}"; chmod +x "${join(bin, COMMAND[p])}";;`).join(' ');
    stub(bin, 'apt-get', `PATH=/usr/bin:/bin\necho "$DEBIAN_FRONTEND apt-get $*" >> "${log}"\nfor a in "$@"; do case "$a" in ${installs} esac; done`);
  }
  return { bin, log };
}

const run = (bin: string, env: NodeJS.ProcessEnv = {}) => runChild('/bin/bash', [SCRIPT], { env: { PATH: bin, ...env } });

describe('npm test\'s pretest (scripts/test-setup.sh)', () => {
  it('does nothing when every package is there', async () => {
    const m = machine(ALL, { uid: 0, apt: true });
    const r = await run(m.bin);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    assert.equal(existsSync(m.log), false, 'apt-get was not called');
  });

  it('as root with apt-get: updates, installs only the missing packages noninteractively, and passes', async () => {
    const m = machine(['python3', 'curl', 'procps', 'spamd', 'rspamd', 'isync', 'getmail6'], { uid: 0, apt: true });
    const r = await run(m.bin);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(m.log, 'utf8').split('\n'), [
      'noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq',
      'noninteractive apt-get -o DPkg::Lock::Timeout=600 install -qq -y chromium fonts-noto-color-emoji fonts-noto-cjk swaks libnet-ssleay-perl haproxy',
      '',
    ]);
    assert.equal(r.stdout, 'test set-up: installing chromium fonts-noto-color-emoji fonts-noto-cjk swaks libnet-ssleay-perl haproxy (Debian packages the tests drive)\ntest set-up: done\n');
  });

  it('installs the spam checkers and the mail clients without their recommends, in a call of their own', async () => {
    const m = machine(['chromium', 'fonts-noto-color-emoji', 'fonts-noto-cjk', 'swaks', 'libnet-ssleay-perl', 'haproxy', 'python3', 'curl', 'procps'], { uid: 0, apt: true });
    const r = await run(m.bin);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(m.log, 'utf8').split('\n'), [
      'noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq',
      'noninteractive apt-get -o DPkg::Lock::Timeout=600 install -qq -y --no-install-recommends spamd rspamd isync getmail6',
      '',
    ]);
  });

  it('as root, fails when apt-get did not bring a package', async () => {
    const m = machine(ALL.filter((p) => p !== 'haproxy'), { uid: 0, apt: true });
    stub(m.bin, 'apt-get', 'exit 0');
    const r = await run(m.bin);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'test set-up: still missing after apt-get install: haproxy\n');
  });

  it('not as root: stops at once with the exact command to run', async () => {
    const m = machine(['chromium', 'fonts-noto-color-emoji', 'haproxy', 'python3', 'curl', 'procps', 'spamd', 'rspamd', 'isync', 'getmail6'], { uid: 1000, apt: true });
    const r = await run(m.bin);
    assert.equal(r.code, 1);
    assert.equal(existsSync(m.log), false, 'apt-get was not called');
    assert.equal(r.stderr, [
      'test set-up: the tests need these Debian packages, which are missing: fonts-noto-cjk swaks libnet-ssleay-perl',
      'Install them, then run npm test again:',
      '  sudo apt-get update && sudo apt-get install -y fonts-noto-cjk swaks libnet-ssleay-perl',
      '',
    ].join('\n'));
  });

  it('without apt-get: stops at once naming the packages', async () => {
    const m = machine(ALL.filter((p) => p !== 'chromium'), { uid: 0, apt: false });
    const r = await run(m.bin);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'test set-up: the tests need these Debian packages, which are missing: chromium\n' +
      'This is not a Debian-like system (no apt-get): install the same packages with its package manager.\n');
  });

  it('stops at once when PostgreSQL does not answer, naming the URL and what to do', async () => {
    const m = machine(ALL, { uid: 0, apt: true });
    rmSync(join(m.bin, 'pg_isready')); // no pg_isready: the script tries a TCP connect, to a closed loopback port
    const url = 'postgres://postgres@127.0.0.1:1/test';
    const r = await run(m.bin, { MAILWIRE_TEST_PG_URL: url });
    assert.deepEqual([r.code, r.stdout], [1, '']);
    assert.equal(r.stderr, `test set-up: PostgreSQL does not answer at ${url} (three suites need it).\n` +
      'Start PostgreSQL there and create the database (createdb -U postgres test), or set MAILWIRE_TEST_PG_URL to one that answers.\n');
    assert.equal(existsSync(m.log), false, 'apt-get was not called');
  });

  it('asks pg_isready about MAILWIRE_TEST_PG_URL when there is one, and stops when it says no', async () => {
    const m = machine(ALL, { uid: 0, apt: true });
    const args = join(m.bin, 'pg_isready.args');
    stub(m.bin, 'pg_isready', `echo "$*" > "${args}"\nexit 2`);
    const url = 'postgres://postgres@127.0.0.1:5432/test';
    const r = await run(m.bin, { MAILWIRE_TEST_PG_URL: url });
    assert.equal(r.code, 1);
    assert.equal(readFileSync(args, 'utf8'), `-q -t 5 -d ${url}\n`);
    assert.match(r.stderr, /^test set-up: PostgreSQL does not answer at postgres:\/\/postgres@127\.0\.0\.1:5432\/test /);
  });
});
