/**
 * The UI's address: what a reload should keep, in the hash (#/m/<id>/<tab>, #/sessions/<id>, #/faults). No DOM here,
 * so the tests run it under Node. A hash is whatever a link said: one that is not valid percent-encoding (#/m/%E0)
 * is taken as written, never thrown on (a throw here blanked the whole page).
 */
export const TABS = ['html', 'text', 'headers', 'raw', 'envelope', 'attachments', 'checks'] as const;
export type RouteTab = (typeof TABS)[number];
export type Route = { view: 'inbox'; id: string | null; tab: RouteTab | null } | { view: 'sessions'; id: string | null } | { view: 'faults' };

const isTab = (s: string): s is RouteTab => (TABS as readonly string[]).includes(s);

/** decodeURIComponent, or the text itself where it is not valid percent-encoded UTF-8. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodePart);
  if (parts[0] === 'sessions') return { view: 'sessions', id: parts[1] || null };
  if (parts[0] === 'faults') return { view: 'faults' };
  const tab = parts[2] ?? '';
  if (parts[0] === 'm' && parts[1]) return { view: 'inbox', id: parts[1], tab: isTab(tab) ? tab : null };
  return { view: 'inbox', id: null, tab: null };
}

export function routeHash(r: Route): string {
  if (r.view === 'sessions') return r.id ? `#/sessions/${encodeURIComponent(r.id)}` : '#/sessions';
  if (r.view === 'faults') return '#/faults';
  return r.id ? `#/m/${encodeURIComponent(r.id)}${r.tab ? `/${r.tab}` : ''}` : '#/';
}
