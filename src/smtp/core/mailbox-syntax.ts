/**
 * Mailbox syntax (RFC 5321 §4.1.2): Local-part "@" ( Domain / address-literal ). Used by the client to refuse a bad
 * address before anything is sent, and by the standards dialect to answer 501.
 */
import { isIpv4 } from '../../ip-syntax.js';

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_STRING = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
const UTF8_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\u{10FFFF}-]+"; // RFC 6531 §3.3: atext / UTF8-non-ascii
const UTF8_DOT_STRING = new RegExp(`^${UTF8_ATOM}(?:\\.${UTF8_ATOM})*$`, 'u');
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const UTF8_LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]{0,61}[\\p{L}\\p{N}])?';
/** Dot-separated labels, each checked on its own, in one pass (this runs for every MAIL and RCPT). */
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const UTF8_DOMAIN = new RegExp(`^${UTF8_LABEL}(?:\\.${UTF8_LABEL})*$`, 'u');
const NON_ASCII = /[^\x00-\x7f]/;

export type MailboxCheck = { ok: true } | { ok: false; reason: string };

export function checkMailbox(mailbox: string, opts: { utf8?: boolean } = {}): MailboxCheck {
  const at = mailbox.lastIndexOf('@');
  if (at <= 0) return { ok: false, reason: 'an address needs a local part, "@" and a domain, as in user@example.com' };
  const local = mailbox.slice(0, at);
  const domain = mailbox.slice(at + 1);
  if (/[\r\n]/.test(mailbox)) return { ok: false, reason: 'an address cannot hold a line break' };
  if ((NON_ASCII.test(local) ? utf8Length(local) : local.length) > 64) return { ok: false, reason: 'the local part is longer than 64 octets' };
  const localOk = DOT_STRING.test(local) || QUOTED_STRING.test(local) || (opts.utf8 === true && UTF8_DOT_STRING.test(local));
  if (!localOk) return { ok: false, reason: `"${local}" is not a valid local part` };
  const domainCheck = checkDomain(domain, opts);
  return domainCheck.ok ? { ok: true } : domainCheck;
}

export function checkDomain(domain: string, opts: { utf8?: boolean } = {}): MailboxCheck {
  if (domain.startsWith('[') && domain.endsWith(']')) {
    const literal = domain.slice(1, -1);
    if (isIpv4(literal) || /^IPv6:[0-9A-Fa-f:.]+$/.test(literal)) return { ok: true };
    return { ok: false, reason: `"${domain}" is not a valid address literal` };
  }
  if (domain === '' || domain.length > 255) return { ok: false, reason: 'the domain is empty or too long' };
  if (!(opts.utf8 === true ? UTF8_DOMAIN : DOMAIN).test(domain)) return { ok: false, reason: `"${domain}" is not a valid domain` };
  return { ok: true };
}

/** Octets of a string in UTF-8 (a lone surrogate counts as the 3 octets of U+FFFD, as TextEncoder writes it). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The domain part of a mailbox, for HELO (the text's "HELO <sender's mail server domain name>"). */
export const domainOf = (mailbox: string): string => mailbox.slice(mailbox.lastIndexOf('@') + 1);
