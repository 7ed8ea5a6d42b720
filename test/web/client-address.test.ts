import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { parseAddressList } from '../../src/net/ip-address.js';
import { clientAddressOf, forwardedClient } from '../../src/web/client-address.js';

describe('the HTTP client address', () => {
  const trusted = parseAddressList('127.0.0.1, 10.0.0.0/8, ::1');
  const table: [string, string | null, string][] = [
    // socket peer        X-Forwarded-For                       client
    ['192.0.2.1',          null,                                 '192.0.2.1'],
    ['192.0.2.1',          '203.0.113.9',                        '192.0.2.1'], // not a trusted proxy: its header is ignored
    ['127.0.0.1',          null,                                 '127.0.0.1'], // the proxy itself (a health check)
    ['127.0.0.1',          '203.0.113.9',                        '203.0.113.9'],
    ['::ffff:127.0.0.1',   '203.0.113.9',                        '203.0.113.9'],
    ['::1',                '2001:db8::9',                        '2001:db8::9'],
    ['127.0.0.1',          '198.51.100.66, 203.0.113.9',         '203.0.113.9'], // what the client wrote itself is left of it
    ['127.0.0.1',          '198.51.100.66, 203.0.113.9, 10.1.2.3', '203.0.113.9'], // through two trusted proxies
    ['127.0.0.1',          '10.9.9.9, 10.1.2.3',                 '10.9.9.9'], // all trusted: the leftmost
    ['127.0.0.1',          'evil\u001b[2J, 10.1.2.3',            '10.1.2.3'], // not an address: the trusted hop that wrote it
    ['127.0.0.1',          'unknown',                            '127.0.0.1'],
    ['127.0.0.1',          ' ,, 203.0.113.9 ,',                  '203.0.113.9'],
  ];
  for (const [peer, xff, want] of table) {
    it(`${peer} with X-Forwarded-For ${JSON.stringify(xff)} → ${want}`, () => assert.equal(forwardedClient(peer, xff, trusted), want));
  }

  it('believes no header without --trusted-proxies', () => assert.equal(forwardedClient('127.0.0.1', '203.0.113.9', undefined), '127.0.0.1'));

  it('reads the socket peer the HTTP server hands the app, and the header, from a request', async () => {
    const app = new Hono();
    app.get('/', (c) => c.text(clientAddressOf(c, trusted)));
    const ask = async (env: object | undefined, xff?: string): Promise<string> =>
      (await app.fetch(new Request('http://t/', xff === undefined ? {} : { headers: { 'X-Forwarded-For': xff } }), env)).text();
    assert.equal(await ask({ remoteAddress: '127.0.0.1' }, '203.0.113.9'), '203.0.113.9');
    assert.equal(await ask({ remoteAddress: '192.0.2.1' }, '203.0.113.9'), '192.0.2.1');
    assert.equal(await ask(undefined, '203.0.113.9'), 'unknown');
  });
});
