/**
 * mailwire's checks (src/checks) in the shapes of Mailpit's html-check, link-check and sa-check answers (its
 * HTMLCheckResponse, LinkCheckResponse and SpamAssassinResponse), so that Mailpit's clients read them unchanged.
 * Mailpit gives its support shares as percentages; its warnings are the features some client does not fully support.
 */
import type { HtmlCheckReport } from '../../checks/html.js';
import type { LinkReport } from '../../checks/links.js';
import type { SpamReport } from '../../checks/spam.js';

type Share = { Supported: number; Partial: number; Unsupported: number };
const percent = (n: number, of: number): number => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 100);
const SUPPORT = { y: 'yes', a: 'partial', n: 'no', u: 'unknown' } as const;

export function mailpitHtmlCheck(r: HtmlCheckReport, nodes: number): unknown {
  const names = new Map(r.clients.map((c) => [c.client, c.name]));
  const platforms: Record<string, string[]> = {};
  for (const c of r.clients) {
    const platform = c.client.split('.')[1] ?? '';
    (platforms[platform] ??= []).push(c.name.replace(/ \(.*\)$/, ''));
  }
  const all = { y: 0, a: 0, n: 0 };
  const warnings = r.features.flatMap((f) => {
    const results = Object.entries(f.support).map(([client, s]) => {
      const [family, platform] = client.split('.') as [string, string];
      if (s.support !== 'u') all[s.support]++;
      return { Family: family, Platform: platform, Version: s.version, Name: names.get(client) ?? client, Support: SUPPORT[s.support], ...(s.note ? { NoteNumber: '1' } : {}) };
    });
    const known = results.filter((x) => x.Support !== 'unknown').length;
    const count = (v: string): number => results.filter((x) => x.Support === v).length;
    const share: Share = { Supported: percent(count('yes'), known), Partial: percent(count('partial'), known), Unsupported: percent(count('no'), known) };
    if (share.Supported === 100) return [];
    const notes = Object.values(f.support).map((s) => s.note).filter((x): x is string => x !== null);
    return [{
      Slug: f.slug, Title: f.title, URL: f.url, Category: f.category.toUpperCase() === 'CSS' ? 'css' : f.category, Tags: [], Keywords: '',
      Score: { Found: f.occurrences, ...share }, Results: results, ...(notes.length > 0 ? { NotesByNumber: { 1: notes[0] } } : {}),
    }];
  });
  const known = all.y + all.a + all.n;
  return {
    Total: { Nodes: nodes, Tests: r.features.length, Supported: percent(all.y, known), Partial: percent(all.a, known), Unsupported: percent(all.n, known) },
    Warnings: warnings, Platforms: platforms,
  };
}

export function mailpitLinkCheck(r: LinkReport): unknown {
  return {
    Errors: r.errors,
    Links: r.links.map((l) => ({ URL: l.url, StatusCode: l.status ?? 0, Status: l.status === null ? (l.error ?? 'failed') : l.ok ? 'OK' : (l.error ?? String(l.status)) })),
  };
}

export function mailpitSpamCheck(r: SpamReport): unknown {
  return { IsSpam: r.spam, Score: r.score, Rules: r.rules.map((x) => ({ Name: x.name, Score: x.score, Description: x.description })), Error: '' };
}
