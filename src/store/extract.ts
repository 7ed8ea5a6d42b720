/** What a test harness waiting for mail wants from it: the links to click and the one-time codes to type. */
import { htmlToText } from './index.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const HREF_RE = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
/** 4 to 8 digits standing alone: not part of a longer number, a word, a decimal or a date. */
const CODE_RE = /(?<![\p{L}\p{N}.,:/-])\p{Nd}{4,8}(?![\p{L}\p{N}]|[.,:/-]\p{N})/gu;

export function extractLinks(text: string, html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(HREF_RE)) {
    const href = decodeEntities(m[1] ?? m[2] ?? m[3] ?? '').trim();
    if (/^https?:\/\//i.test(href)) found.push(href);
  }
  for (const source of [text, htmlToText(html)]) {
    for (const m of source.matchAll(URL_RE)) found.push(m[0].replace(/[.,;:!?)\]}>]+$/, ''));
  }
  return [...new Set(found)];
}

export function extractCodes(subject: string, text: string, html: string): string[] {
  const found: string[] = [];
  for (const source of [subject, text, htmlToText(html)]) {
    const withoutUrls = source.replace(URL_RE, ' ');
    for (const m of withoutUrls.matchAll(CODE_RE)) found.push(m[0]);
  }
  return [...new Set(found)];
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/gi, '&').replace(/&quot;/gi, '"').replace(/&#39;/g, "'").replace(/&lt;/gi, '<').replace(/&gt;/gi, '>');
}
