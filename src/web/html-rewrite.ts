/**
 * What a mail's HTML becomes before the API serves it for preview (GET /api/v1/messages/:id/html): scripts stripped
 * (defence in depth: the route's CSP sandbox is what stops them), cid: references pointed at the message's own
 * attachments, and links sent to a new tab. Pure string work on the stored HTML; the route adds the headers.
 */
import type { AttachmentInfo } from '../store/index.js';

/** The HTML to serve: `baseUrl` + n is the URL of attachment n on this origin. */
export function previewHtml(html: string, attachments: readonly AttachmentInfo[], baseUrl: string): string {
  return withBaseTarget(resolveCids(withoutScripts(html), attachments, baseUrl));
}

/** Defence in depth behind the CSP sandbox: no script elements, no inline handlers, no javascript: URLs. */
export function withoutScripts(html: string): string {
  return html
    .replace(/<script\b[\s\S]*?<\/script\s*>/gi, '')
    .replace(/<script\b[^>]*>/gi, '')
    .replace(/\s+on[a-z]+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, '')
    .replace(/(href|src)\s*=\s*(["']?)\s*javascript:/gi, '$1=$2#');
}

/** Rewrites `cid:` references (RFC 2392) to the URLs of the attachments with those Content-IDs; unknown ones stay. */
export function resolveCids(html: string, attachments: readonly AttachmentInfo[], baseUrl: string): string {
  const byCid = new Map<string, number>();
  for (const a of attachments) if (a.contentId) byCid.set(a.contentId.replace(/^<|>$/g, '').toLowerCase(), a.index);
  if (byCid.size === 0) return html;
  return html.replace(/cid:([^\s"'<>)]+)/gi, (whole, id: string) => {
    let key = id;
    try { key = decodeURIComponent(id); } catch { /* keep it as written */ }
    const n = byCid.get(key.toLowerCase());
    return n === undefined ? whole : `${baseUrl}${n}`;
  });
}

/** Links open in a new tab: a <base target> in the head (or first, when the mail has no head). */
export function withBaseTarget(html: string): string {
  const tag = '<base target="_blank">';
  // After <head>, else after <html> or the doctype (a tag before the doctype would switch to quirks mode).
  const at = /<head\b[^>]*>/i.exec(html) ?? /<html\b[^>]*>/i.exec(html) ?? /^\s*<!doctype[^>]*>/i.exec(html);
  if (!at) return tag + html;
  const end = at.index + at[0].length;
  return html.slice(0, end) + tag + html.slice(end);
}
