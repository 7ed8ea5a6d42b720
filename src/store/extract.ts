/**
 * What a test harness waiting for mail wants from it: the links to click and the one-time codes to type. Linear in the
 * mail's size: the HTML is read by store/html.ts's tokenizer, and the patterns below cannot backtrack far (a URL's
 * characters are one class, a code is 4 to 8 digits looked at one character either side).
 */
import { htmlLinks, htmlToText } from './html.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** 4 to 8 digits standing alone: not part of a longer number, a word, a decimal or a date. */
const CODE_RE = /(?<![\p{L}\p{N}.,:/-])\p{Nd}{4,8}(?![\p{L}\p{N}]|[.,:/-]\p{N})/gu;
/** Characters taken off the end of a URL found in text: the sentence's, not the URL's. */
const TRAILING = new Set('.,;:!?)]}>');

export function extractLinks(text: string, html: string): string[] {
  const found: string[] = [];
  for (const href of htmlLinks(html)) if (/^https?:\/\//i.test(href)) found.push(href);
  for (const source of [text, htmlToText(html)]) {
    for (const m of source.matchAll(URL_RE)) {
      let end = m[0].length;
      while (end > 0 && TRAILING.has(m[0][end - 1] ?? '')) end--;
      found.push(m[0].slice(0, end));
    }
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
