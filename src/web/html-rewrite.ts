/**
 * What a mail's HTML becomes before the API serves it for preview (GET /api/v1/messages/:id/html): scripts stripped
 * (defence in depth: the route's CSP sandbox is what stops them), cid: references pointed at the message's own
 * attachments, and links sent to a new tab. Pure string work on the stored HTML, each pass linear (see store/html.ts);
 * the route adds the headers.
 */
import type { AttachmentInfo } from '../store/index.js';
import { withBaseTarget, withoutScripts } from '../store/html.js';

export { withBaseTarget, withoutScripts };

/** The HTML to serve: `baseUrl` + n is the URL of attachment n on this origin. */
export function previewHtml(html: string, attachments: readonly AttachmentInfo[], baseUrl: string): string {
  return withBaseTarget(resolveCids(withoutScripts(html), attachments, baseUrl));
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
