import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIpv6, parseAddressList, parseIpv6 } from '../../../src/net/ip-address.js';
import { parseProxyHeader, proxySignature, type ProxyHeader } from '../../../src/net/proxy-header.js';
import { proxyV1, proxyV2 } from '../../helpers/proxy-header.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const proxied = (version: 1 | 2, src: string, sport: number, dst: string, dport: number, headerBytes: number): ProxyHeader =>
  ({ kind: 'proxied', version, source: { address: src, port: sport }, destination: { address: dst, port: dport }, headerBytes });
const invalid = (reason: string): ProxyHeader => ({ kind: 'invalid', reason });

const V1_TCP4 = proxyV1('TCP4 192.0.2.7 127.0.0.1 50000 25');
const V1_TCP6 = proxyV1('TCP6 2001:DB8:0:0:0:0:0:7 ::1 50000 25');
const V2_TCP4 = proxyV2({ source: { address: '192.0.2.7', port: 50000 }, destination: { address: '127.0.0.1', port: 25 } });
const V2_TCP6 = proxyV2({ source: { address: '2001:db8::7', port: 443 }, destination: { address: '::1', port: 2525 } });
// A TLV (type 0x04, NOOP) of 3 bytes and an ALPN TLV (0x01) "h2": skipped.
const TLVS = Buffer.from([0x04, 0x00, 0x03, 1, 2, 3, 0x01, 0x00, 0x02, 0x68, 0x32]);
const V2_TLV = proxyV2({ source: { address: '192.0.2.7', port: 1 }, destination: { address: '127.0.0.1', port: 2 }, tlvs: TLVS });
const V2_LOCAL = proxyV2({ command: 'LOCAL' });

describe('PROXY header parser', () => {
  const cases: [string, Buffer, ProxyHeader][] = [
    ['v1 TCP4', V1_TCP4, proxied(1, '192.0.2.7', 50000, '127.0.0.1', 25, V1_TCP4.length)],
    ['v1 TCP6, written in RFC 5952 form', V1_TCP6, proxied(1, '2001:db8::7', 50000, '::1', 25, V1_TCP6.length)],
    ['v1 TCP6 with an IPv4-mapped client', proxyV1('TCP6 ::ffff:192.0.2.9 ::1 1 2'), proxied(1, '::ffff:192.0.2.9', 1, '::1', 2, 37)],
    ['v1 UNKNOWN alone', latin1('PROXY UNKNOWN\r\n'), { kind: 'unknown', version: 1, headerBytes: 15 }],
    ['v1 UNKNOWN with addresses, ignored', proxyV1('UNKNOWN 1.2.3.4 5.6.7.8 1 2'), { kind: 'unknown', version: 1, headerBytes: 35 }],
    ['v1 with the client\'s first command after it', Buffer.concat([V1_TCP4, latin1('EHLO a\r\n')]), proxied(1, '192.0.2.7', 50000, '127.0.0.1', 25, V1_TCP4.length)],
    ['v1 TCP6 at its longest', proxyV1('TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535'),
      proxied(1, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 65535, 104)],
    ['v1 of the longest legal length (107 bytes)', latin1(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`), { kind: 'unknown', version: 1, headerBytes: 107 }],
    ['v2 PROXY TCP4', V2_TCP4, proxied(2, '192.0.2.7', 50000, '127.0.0.1', 25, 28)],
    ['v2 PROXY TCP6', V2_TCP6, proxied(2, '2001:db8::7', 443, '::1', 2525, 52)],
    ['v2 with TLVs, skipped', V2_TLV, proxied(2, '192.0.2.7', 1, '127.0.0.1', 2, 28 + TLVS.length)],
    ['v2 LOCAL (a health check)', V2_LOCAL, { kind: 'local', headerBytes: 16 }],
    ['v2 LOCAL with addresses, ignored', proxyV2({ command: 'LOCAL', source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 } }), { kind: 'local', headerBytes: 28 }],
    ['v2 PROXY over UNSPEC', proxyV2({ familyByte: 0x00 }), { kind: 'unknown', version: 2, headerBytes: 16 }],
    ['v2 PROXY over a UNIX socket', proxyV2({ familyByte: 0x31, tlvs: Buffer.alloc(216) }), { kind: 'unknown', version: 2, headerBytes: 232 }],
    ['SMTP straight away', latin1('EHLO a.test\r\n'), { kind: 'absent' }],
    ['a lower-case proxy line is SMTP, not a header', latin1('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), { kind: 'absent' }],
    ['nothing yet', Buffer.alloc(0), { kind: 'need-more' }],
    ['v1 without its line end', latin1('PROXY TCP4 192.0.2.7 127.0.0.1 500'), { kind: 'need-more' }],
    ['v2 without its addresses', V2_TCP4.subarray(0, 20), { kind: 'need-more' }],
    ['v2 without the TLVs its length counts', V2_TLV.subarray(0, V2_TLV.length - 1), { kind: 'need-more' }],
    ['v1 of 108 bytes', latin1(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), invalid('v1 header longer than 107 bytes')],
    ['v1 with no line end in 107 bytes', latin1(`PROXY UNKNOWN ${'x'.repeat(93)}`), invalid('v1 header longer than 107 bytes')],
    ['v1 ended by a bare LF', latin1('PROXY UNKNOWN\n'), invalid('v1 header not ended by CRLF')],
    ['v1 of another protocol', proxyV1('UDP4 1.2.3.4 5.6.7.8 1 2'), invalid('v1 protocol "UDP4": expected TCP4, TCP6 or UNKNOWN')],
    ['v1 with a missing port', proxyV1('TCP4 1.2.3.4 5.6.7.8 1'), invalid('v1 TCP4 header needs 4 fields after the protocol, separated by single spaces')],
    ['v1 with two spaces', proxyV1('TCP4 1.2.3.4  5.6.7.8 1 2'), invalid('v1 TCP4 header needs 4 fields after the protocol, separated by single spaces')],
    ['v1 TCP4 with an IPv6 address', proxyV1('TCP4 ::1 5.6.7.8 1 2'), invalid('v1 source address "::1" is not an IPv4 address')],
    ['v1 TCP4 with an octet over 255', proxyV1('TCP4 1.2.3.4 5.6.7.256 1 2'), invalid('v1 destination address "5.6.7.256" is not an IPv4 address')],
    ['v1 TCP6 with an IPv4 address', proxyV1('TCP6 1.2.3.4 ::1 1 2'), invalid('v1 source address "1.2.3.4" is not an IPv6 address')],
    ['v1 with a port over 65535', proxyV1('TCP4 1.2.3.4 5.6.7.8 65536 2'), invalid('v1 source port "65536" is not a port number')],
    ['v1 with a leading zero in a port', proxyV1('TCP4 1.2.3.4 5.6.7.8 1 025'), invalid('v1 destination port "025" is not a port number')],
    ['v1 with a control byte', latin1('PROXY TCP4 1.2.3.4\x1b 5.6.7.8 1 2\r\n'), invalid('v1 header holds a byte that is not printable ASCII')],
    ['v2 version 1', Buffer.concat([V2_TCP4.subarray(0, 12), Buffer.from([0x11]), V2_TCP4.subarray(13)]), invalid('v2 version 1: expected 2')],
    ['v2 command 2', Buffer.concat([V2_TCP4.subarray(0, 12), Buffer.from([0x22]), V2_TCP4.subarray(13)]), invalid('v2 command 2: expected LOCAL (0) or PROXY (1)')],
    ['v2 over UDP', proxyV2({ familyByte: 0x12, source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 } }), invalid('v2 transport 2: SMTP runs over a stream (1)')],
    ['v2 of an undefined family', proxyV2({ familyByte: 0x41 }), invalid('v2 address family 4 is not defined')],
    ['v2 TCP4 too short for its addresses', proxyV2({ familyByte: 0x11, tlvs: Buffer.alloc(8) }), invalid('v2 IPv4 header of 8 address bytes: needs at least 12')],
    ['v2 TCP6 too short for its addresses', proxyV2({ familyByte: 0x21, tlvs: Buffer.alloc(12) }), invalid('v2 IPv6 header of 12 address bytes: needs at least 36')],
  ];
  for (const [name, bytes, want] of cases) {
    it(`${name} → ${want.kind}`, () => assert.deepEqual(parseProxyHeader(bytes), want));
  }

  it('answers need-more for every proper prefix of a whole header, as when it comes a byte at a time', () => {
    for (const header of [V1_TCP4, V1_TCP6, V2_TCP4, V2_TCP6, V2_TLV, V2_LOCAL]) {
      for (let n = 0; n < header.length; n++) assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { kind: 'need-more' }, `${n} of ${header.length} bytes`);
      assert.notEqual(parseProxyHeader(header).kind, 'need-more');
    }
  });

  it('tells a header\'s signature as soon as its first bytes can', () => {
    assert.equal(proxySignature(latin1('P')), 'need-more');
    assert.equal(proxySignature(latin1('PROXY')), 'need-more');
    assert.equal(proxySignature(latin1('PROXY ')), 'v1');
    assert.equal(proxySignature(latin1('PROXX')), 'none');
    assert.equal(proxySignature(latin1('\r\n')), 'need-more');
    assert.equal(proxySignature(latin1('\r\nHELO')), 'none');
    assert.equal(proxySignature(V2_LOCAL.subarray(0, 11)), 'need-more');
    assert.equal(proxySignature(V2_LOCAL.subarray(0, 12)), 'v2');
    assert.equal(proxySignature(latin1('HELO a\r\n')), 'none');
  });
});

describe('IP addresses and --trusted-proxies lists', () => {
  it('writes IPv6 addresses in RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['::1', '::1'], ['0:0:0:0:0:0:0:0', '::'], ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['fe80::0001', 'fe80::1'], ['::ffff:1.2.3.4', '::ffff:1.2.3.4'], ['::FFFF:0102:0304', '::ffff:1.2.3.4'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [text, want] of cases) {
      const bytes = parseIpv6(text);
      assert.ok(bytes, text);
      assert.equal(formatIpv6(bytes), want, text);
    }
    for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::1.2.3', '::1%eth0', '1:2:3:4:5:6:7::8']) {
      assert.equal(parseIpv6(bad), null, bad);
    }
  });

  it('matches addresses and CIDR ranges, IPv4 in either of its forms', () => {
    const list = parseAddressList(' 127.0.0.1, 10.0.0.0/8,fd00::/8 ,::1');
    assert.equal(list.text, '127.0.0.1, 10.0.0.0/8, fd00::/8, ::1');
    const cases: [string, boolean][] = [
      ['127.0.0.1', true], ['::ffff:127.0.0.1', true], ['127.0.0.2', false], ['10.255.1.2', true], ['11.0.0.0', false],
      ['fd12::1', true], ['fe00::1', false], ['::1', true], ['::2', false], ['unknown', false], ['', false],
    ];
    for (const [address, want] of cases) assert.equal(list.includes(address), want, address);
    assert.equal(parseAddressList('0.0.0.0/0').includes('192.0.2.1'), true);
    assert.equal(parseAddressList('0.0.0.0/0').includes('2001:db8::1'), false);
  });

  it('refuses a list entry that is not an address or range, saying which', () => {
    assert.throws(() => parseAddressList(''), /expected one or more addresses or CIDR ranges/);
    assert.throws(() => parseAddressList('127.0.0.1,proxy.test'), /"proxy\.test" is not an IPv4 or IPv6 address or CIDR range/);
    assert.throws(() => parseAddressList('10.0.0.0/33'), /"10\.0\.0\.0\/33": the prefix length must be 0 to 32/);
    assert.throws(() => parseAddressList('::/129'), /the prefix length must be 0 to 128/);
    assert.throws(() => parseAddressList('10.0.0.1/8'), /"10\.0\.0\.1\/8" has bits set after its \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)/);
    assert.throws(() => parseAddressList('fd00::1/8'), /did you mean fd00::\/8\?/);
  });
});
