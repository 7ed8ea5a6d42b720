/**
 * The outbound guard (src/net/outbound-guard.ts) and the fetch that goes through it: which addresses a check may
 * reach, that a name is resolved once and connected to as resolved, and that every redirect hop is checked again.
 * DNS is an injected function: no resolver or hosts file is touched, and refusals come before any connect.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { forbiddenReason, OutboundGuard, type Lookup } from '../../src/net/outbound-guard.js';
import { guardedFetch } from '../../src/net/guarded-fetch.js';

describe('forbiddenReason', () => {
  const table: Array<[string, string | null]> = [
    ['93.184.215.14', null],
    ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', null],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.0.0.1', 'private (RFC 1918)'],
    ['172.16.5.4', 'private (RFC 1918)'],
    ['172.32.0.1', null],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared address space (CGNAT, RFC 6598)'],
    ['100.128.0.1', null],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'IPv4-mapped IPv6'],
    ['::ffff:8.8.8.8', 'IPv4-mapped IPv6'],
    ['64:ff9b::a00:1', 'IPv4-translated IPv6 (NAT64)'],
    ['fd00::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fec0::1', 'site-local (deprecated)'],
    ['ff02::1', 'multicast'],
    ['2002:7f00:1::', '6to4'],
  ];
  for (const [address, reason] of table) {
    it(`${address}: ${reason ?? 'allowed'}`, () => assert.equal(forbiddenReason(address, false), reason));
  }
  it('allows loopback only when the policy does (webhooks)', () => {
    assert.equal(forbiddenReason('127.0.0.1', true), null);
    assert.equal(forbiddenReason('::1', true), null);
    assert.equal(forbiddenReason('10.0.0.1', true), 'private (RFC 1918)');
  });
});

describe('OutboundGuard and guardedFetch', () => {
  let server: Server;
  let port = 0;
  const requests: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.headers.host ?? ''} ${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/hop') res.writeHead(302, { location: `http://127.0.0.1:${port}/ok` }).end();
      else if (req.url?.startsWith('/loop')) res.writeHead(302, { location: `/loop${req.url.length}` }).end();
      else res.end('hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const noDns: Lookup = async (host) => {
    throw new Error(`no DNS in this test (${host})`);
  };

  it('refuses loopback without the allowlist, before any connect', async () => {
    const before = requests.length;
    const r = await guardedFetch(new OutboundGuard({ lookup: noDns }), `http://127.0.0.2:${port}/ok`);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.refused);
    assert.match(!r.ok ? r.reason : '', /^127\.0\.0\.2: loopback addresses are refused \(allow it with --checks-allow-hosts\)$/);
    assert.equal(requests.length, before);
  });

  it('refuses a name that resolves to 10.0.0.1, naming both, before any connect', async () => {
    const guard = new OutboundGuard({ lookup: async () => ['10.0.0.1'] });
    const r = await guardedFetch(guard, 'http://intranet.example/');
    assert.deepEqual(!r.ok && { reason: r.reason, refused: r.refused }, {
      reason: 'intranet.example resolves to 10.0.0.1: private (RFC 1918) addresses are refused (allow it with --checks-allow-hosts)', refused: true,
    });
  });

  it('refuses a name with one private address among public ones', async () => {
    const guard = new OutboundGuard({ lookup: async () => ['93.184.215.14', '192.168.0.10'] });
    const v = await guard.check(new URL('http://mixed.example/'));
    assert.equal(v.ok, false);
  });

  it('refuses [::ffff:127.0.0.1] and non-http schemes', async () => {
    const guard = new OutboundGuard({ lookup: noDns, allowHosts: ['127.0.0.0/8'] });
    const mapped = await guard.check(new URL('http://[::ffff:127.0.0.1]/'));
    assert.deepEqual(mapped, { ok: false, reason: '::ffff:7f00:1: IPv4-mapped IPv6 addresses are refused (allow it with --checks-allow-hosts)' });
    assert.deepEqual(await guard.check(new URL('file:///etc/passwd')), { ok: false, reason: 'only http and https URLs are fetched, not file:' });
  });

  it('connects to the address it checked: the name is resolved once, the Host header is the name', async () => {
    let lookups = 0;
    const guard = new OutboundGuard({ allowHosts: ['127.0.0.2'], lookup: async () => { lookups++; return ['127.0.0.2']; } });
    const r = await guardedFetch(guard, `http://user:secret@mail-links.test:${port}/ok`);
    assert.ok(r.ok);
    assert.equal(r.ok && r.body.toString(), 'hello');
    assert.equal(lookups, 1);
    assert.equal(requests.at(-1), `mail-links.test:${port} GET /ok -`, 'no credentials forwarded');
  });

  it('checks every redirect hop again: a redirect into 127.0.0.1 is refused without the allowlist', async () => {
    const guard = new OutboundGuard({ allowHosts: ['127.0.0.2'], lookup: noDns });
    const r = await guardedFetch(guard, `http://127.0.0.2:${port}/hop`);
    assert.equal(r.ok, false);
    assert.deepEqual(r.hops, [`http://127.0.0.2:${port}/hop`, `http://127.0.0.1:${port}/ok`]);
    assert.match(!r.ok ? r.reason : '', /^127\.0\.0\.1: loopback addresses are refused/);
  });

  it('follows at most 5 redirects', async () => {
    const guard = new OutboundGuard({ allowHosts: ['127.0.0.2'], lookup: noDns });
    const r = await guardedFetch(guard, `http://127.0.0.2:${port}/loop`);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'more than 5 redirects');
    assert.equal(r.hops.length, 6);
  });
});
