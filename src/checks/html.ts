/**
 * The HTML check: which HTML and CSS features a message uses, and how each mail client family supports them, from
 * caniemail's data (vendor/caniemail/caniemail.json, MIT, vendor/caniemail/LICENSE; refreshed by scripts/update-caniemail.sh). The
 * HTML is read by the one linear tokenizer (src/store/html.ts) and its CSS by a linear scanner here; nothing remote is
 * fetched: a stylesheet or an image on the network is reported as remote.
 *
 * Scores: per client (family.platform, the newest tested version), the share of the message's features it supports,
 * partial support counted half and unknown left out; overall, the mean over the clients reported.
 */
import { readFileSync } from 'node:fs';
import { scanHtml, type HtmlTag } from '../store/html.js';

type Support = 'y' | 'n' | 'a' | 'u';
type CanIEmailFeature = Readonly<{
  slug: string;
  title: string;
  url: string;
  category: string;
  stats: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, string>>>>>>;
  notes_by_num: Readonly<Record<string, string>> | null;
}>;
type CanIEmailData = Readonly<{ last_update_date: string; nicenames: { family: Record<string, string>; platform: Record<string, string> }; data: CanIEmailFeature[] }>;

/** The data, and what is derived from it once: the slugs, the client ids, each feature's newest support per client. */
type Loaded = Readonly<{
  data: CanIEmailData;
  slugs: ReadonlySet<string>;
  clients: readonly string[];
  bySlug: ReadonlyMap<string, CanIEmailFeature>;
  support: ReadonlyMap<string, ReadonlyMap<string, FeatureSupport>>;
}>;
let loaded: Loaded | null = null;
function load(): Loaded {
  if (loaded !== null) return loaded;
  const d = JSON.parse(readFileSync(new URL('../../../vendor/caniemail/caniemail.json', import.meta.url), 'utf8')) as CanIEmailData;
  const clients = new Set<string>();
  const support = new Map<string, Map<string, FeatureSupport>>();
  for (const feature of d.data) {
    const per = new Map<string, FeatureSupport>();
    for (const [family, platforms] of Object.entries(feature.stats)) {
      for (const [platform, versions] of Object.entries(platforms)) {
        const id = `${family}.${platform}`;
        clients.add(id);
        const last = latest(versions);
        if (last === null) continue;
        const [value, ...refs] = last.value.split(' ');
        const s: Support = value === 'y' || value === 'n' || value === 'a' ? value : 'u';
        const notes = refs.map((r) => feature.notes_by_num?.[r.replace('#', '')]).filter((x): x is string => x !== undefined);
        per.set(id, { support: s, note: notes.length === 0 ? null : notes.join(' '), version: last.version });
      }
    }
    support.set(feature.slug, per);
  }
  loaded = { data: d, slugs: new Set(d.data.map((f) => f.slug)), clients: [...clients].sort(), bySlug: new Map(d.data.map((f) => [f.slug, f])), support };
  return loaded;
}
const data = (): CanIEmailData => load().data;

export type FeatureSupport = Readonly<{ support: Support; note: string | null; version: string }>;
export type FoundFeature = Readonly<{
  slug: string;
  title: string;
  category: string;
  url: string;
  /** Where it occurs: at most 5 places, 1-based lines of the HTML with a short excerpt. */
  places: readonly Readonly<{ line: number; excerpt: string }>[];
  occurrences: number;
  /** Per client id (`gmail.desktop-webmail`). */
  support: Readonly<Record<string, FeatureSupport>>;
}>;
export type ClientScore = Readonly<{ client: string; name: string; score: number; supported: number; partial: number; unsupported: number; unknown: number }>;
export type HtmlCheckReport = Readonly<{
  dataDate: string;
  features: readonly FoundFeature[];
  clients: readonly ClientScore[];
  /** Mean of the clients' scores, 0 to 1. */
  score: number;
  /** Stylesheets, images and fonts that a reader's client would fetch from the network (never fetched here). */
  remote: readonly string[];
}>;

/** The client ids in the data (`family.platform`). */
export function clientIds(): string[] {
  return [...load().clients];
}

/**
 * `gmail.*,outlook.windows` → the client ids they name, or an Error naming the pattern that matches none (the API's
 * 400).
 */
export function selectClients(patterns: string): string[] {
  const all = clientIds();
  const chosen = new Set<string>();
  for (const raw of patterns.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [family, platform = '*'] = raw.toLowerCase().split('.', 2) as [string, string?];
    const hits = all.filter((id) => {
      const [f, p] = id.split('.') as [string, string];
      return (family === '*' || f === family) && (platform === '*' || p === platform);
    });
    if (hits.length === 0) throw new Error(`clients: ${JSON.stringify(raw)} matches no client (families: ${Object.keys(data().nicenames.family).join(', ')})`);
    for (const h of hits) chosen.add(h);
  }
  return [...chosen].sort();
}

// ---- finding the features ------------------------------------------------------------------------------------------

/** Elements named by their own slug (`html-<name>`). */
const ELEMENT_SLUG: Readonly<Record<string, string>> = {
  h1: 'html-h1-h6', h2: 'html-h1-h6', h3: 'html-h1-h6', h4: 'html-h1-h6', h5: 'html-h1-h6', h6: 'html-h1-h6',
  ul: 'html-lists', ol: 'html-lists', dl: 'html-lists', map: 'html-image-maps', area: 'html-image-maps',
  article: 'html-semantics', aside: 'html-semantics', details: 'html-semantics', figcaption: 'html-semantics', figure: 'html-semantics',
  footer: 'html-semantics', header: 'html-semantics', main: 'html-semantics', mark: 'html-semantics', nav: 'html-semantics',
  section: 'html-semantics', summary: 'html-semantics', time: 'html-semantics',
};
const ATTRIBUTE_SLUG: Readonly<Record<string, string>> = {
  align: 'html-align', background: 'html-background', cellpadding: 'html-cellpadding', cellspacing: 'html-cellspacing', dir: 'html-dir',
  height: 'html-height', hidden: 'html-hidden', lang: 'html-lang', loading: 'html-loading-attribute', required: 'html-required',
  role: 'html-role', srcset: 'html-srcset', target: 'html-target', valign: 'html-valign', width: 'html-width', popover: 'html-popover',
  'aria-describedby': 'html-aria-describedby', 'aria-hidden': 'html-aria-hidden', 'aria-label': 'html-aria-label',
  'aria-labelledby': 'html-aria-labelledby', 'aria-live': 'html-aria-live',
};
const IMAGE_EXT: Readonly<Record<string, string>> = {
  png: 'image-png', gif: 'image-gif', jpg: 'image-jpg', jpeg: 'image-jpg', webp: 'image-webp', svg: 'image-svg', bmp: 'image-bmp',
  avif: 'image-avif', ico: 'image-ico', tif: 'image-tiff', tiff: 'image-tiff', heif: 'image-heif', heic: 'image-heif', apng: 'image-apng', mp4: 'image-mp4', hdr: 'image-hdr',
};
const UNIT_SLUG: Readonly<Record<string, string>> = {
  px: 'css-unit-px', em: 'css-unit-em', rem: 'css-unit-rem', '%': 'css-unit-percent', vh: 'css-unit-vh', vw: 'css-unit-vw', vmin: 'css-unit-vmin',
  vmax: 'css-unit-vmax', pt: 'css-unit-pt', pc: 'css-unit-pc', cm: 'css-unit-cm', mm: 'css-unit-mm', in: 'css-unit-in', ch: 'css-unit-ch', ex: 'css-unit-ex',
};
const FUNCTION_SLUG: Readonly<Record<string, string>> = {
  calc: 'css-unit-calc', clamp: 'css-function-clamp', min: 'css-function-min', max: 'css-function-max', 'light-dark': 'css-function-light-dark',
  'linear-gradient': 'css-linear-gradient', 'radial-gradient': 'css-radial-gradient', 'conic-gradient': 'css-conic-gradient',
  'repeating-linear-gradient': 'css-linear-gradient', 'repeating-radial-gradient': 'css-radial-gradient', rgb: 'css-rgb', rgba: 'css-rgba', var: 'css-variables',
};
const MEDIA_FEATURE_SLUG: Readonly<Record<string, string>> = {
  'prefers-color-scheme': 'css-at-media-prefers-color-scheme', 'prefers-reduced-motion': 'css-at-media-prefers-reduced-motion',
  orientation: 'css-at-media-orientation', hover: 'css-at-media-hover', '-webkit-min-device-pixel-ratio': 'css-at-media-device-pixel-ratio',
  '-webkit-device-pixel-ratio': 'css-at-media-device-pixel-ratio', 'min-resolution': 'css-at-media-device-pixel-ratio',
};

class Finder {
  readonly found = new Map<string, { places: { line: number; excerpt: string }[]; occurrences: number }>();
  readonly remote = new Set<string>();
  readonly #lineStarts: number[] = [0];
  readonly #known: ReadonlySet<string>;

  constructor(readonly html: string) {
    for (let i = html.indexOf('\n'); i !== -1; i = html.indexOf('\n', i + 1)) this.#lineStarts.push(i + 1);
    this.#known = load().slugs;
  }

  has(slug: string): boolean {
    return this.#known.has(slug);
  }

  add(slug: string, at: number): void {
    if (!this.#known.has(slug)) return;
    let entry = this.found.get(slug);
    if (entry === undefined) {
      entry = { places: [], occurrences: 0 };
      this.found.set(slug, entry);
    }
    entry.occurrences++;
    if (entry.places.length < 5) entry.places.push({ line: this.#line(at), excerpt: this.html.slice(at, at + 60).replace(/\s+/g, ' ') });
  }

  #line(at: number): number {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#lineStarts[mid] as number) <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/** Per element name, its slug (`html-<name>` or ELEMENT_SLUG's): tag names repeat, so each is made once. */
const elementSlugs = new Map<string, string>();
const elementSlug = (name: string): string => {
  let slug = elementSlugs.get(name);
  if (slug === undefined) {
    slug = ELEMENT_SLUG[name] ?? `html-${name}`;
    if (elementSlugs.size < 1000) elementSlugs.set(name, slug);
  }
  return slug;
};

const isRemote = (url: string): boolean => /^\s*(https?:)?\/\//i.test(url);

function onTag(f: Finder, tag: HtmlTag): void {
  if (tag.closing) return;
  const name = tag.name;
  f.add(elementSlug(name), tag.start);
  const attrs = tag.attributes;
  // The values onTag reads, the first of each name (as a browser takes it).
  let type: string | null = null;
  let href: string | null = null;
  let metaName: string | null = null;
  let rel: string | null = null;
  let src: string | null = null;
  let background: string | null = null;
  for (let k = 0; k < attrs.length; k++) {
    const length = attrs.nameLength(k);
    if (length > 20) continue;
    const start = attrs.start(k);
    const raw = f.html.slice(start, start + length);
    const an = ATTRIBUTE_SLUG[raw] !== undefined || raw === raw.toLowerCase() ? raw : raw.toLowerCase();
    const slug = ATTRIBUTE_SLUG[an];
    if (slug !== undefined) f.add(slug, start);
    switch (an) {
      case 'style': if (attrs.valueStart(k) !== -1) scanCss(f, f.html, attrs.valueStart(k), attrs.valueEnd(k), true); break;
      case 'type': type ??= attrs.value(k); break;
      case 'href': href ??= attrs.value(k); break;
      case 'name': metaName ??= attrs.value(k); break;
      case 'rel': rel ??= attrs.value(k); break;
      case 'src': src ??= attrs.value(k); break;
      case 'background': background ??= attrs.value(k); break;
      default: break;
    }
  }
  if (name === 'input' || name === 'button') {
    f.add(`html-${name}-${(type ?? (name === 'button' ? 'submit' : 'text')).toLowerCase()}`, tag.start);
  }
  if (name === 'a') {
    const link = (href ?? '').trim().toLowerCase();
    if (link.startsWith('#')) f.add('html-anchor-links', tag.start);
    if (link.startsWith('mailto:')) f.add('html-mailto-links', tag.start);
  }
  if (name === 'meta' && (metaName ?? '').toLowerCase() === 'color-scheme') f.add('html-meta-color-scheme', tag.start);
  if (name === 'link' && /stylesheet/i.test(rel ?? '') && href !== null && isRemote(href)) f.remote.add(href.trim());
  if (name === 'img' || name === 'source' || name === 'video' || name === 'audio') {
    const url = (src ?? '').trim();
    if (url !== '') {
      if (isRemote(url)) f.remote.add(url);
      const dataImage = /^data:image\/([a-z+.-]{1,20})/i.exec(url.slice(0, 40));
      if (dataImage !== null) f.add('image-base64', tag.start);
      const ext = dataImage?.[1]?.toLowerCase().replace('svg+xml', 'svg') ?? /\.([a-z0-9]{2,5})(?:[?#]|$)/i.exec(url.slice(-200))?.[1]?.toLowerCase();
      const slug = ext === undefined ? undefined : IMAGE_EXT[ext];
      if (slug !== undefined) f.add(slug, tag.start);
    }
  }
  if (background !== null && isRemote(background)) f.remote.add(background.trim());
}

/** `css-<property>`, or for a longhand caniemail does not list (`margin-top`), its shorthand's (`css-margin`). */
function propertySlug(f: Finder, property: string): string {
  const own = `css-${property.replace(/^-(webkit|moz|ms|o)-/, '')}`;
  if (f.has(own)) return own;
  if (['left', 'right', 'top', 'bottom'].includes(property)) return 'css-left-right-top-bottom';
  const dash = property.indexOf('-');
  return dash === -1 ? own : `css-${property.slice(0, dash)}`;
}

const isIdent = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;

/**
 * One forward pass over CSS in html[start, end): comments, at-rules, selectors (in a stylesheet), declarations with
 * their values (units, functions, !important, display values, url()s). `inline`: a style attribute (declarations only).
 */
function scanCss(f: Finder, s: string, start: number, end: number, inline: boolean): void {
  let i = start;
  /** Where we are: in a selector (stylesheet, before `{`), or in a declaration block's name or value. */
  let where: 'selector' | 'name' | 'value' = inline ? 'name' : 'selector';
  let depth = 0;
  let property = '';
  let tokenStart = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 0x2f && s.charCodeAt(i + 1) === 0x2a) { // /* … */
      f.add('css-comments', i);
      const close = s.indexOf('*/', i + 2);
      i = close === -1 || close >= end ? end : close + 2;
      continue;
    }
    if (c === 0x40 && where !== 'value') { // @rule
      let j = i + 1;
      while (j < end && isIdent(s.charCodeAt(j))) j++;
      const rule = s.slice(i + 1, j).toLowerCase();
      f.add(`css-at-${rule}`, i);
      if (rule === 'media' || rule === 'supports') {
        // The prelude up to `{`: its media features.
        const brace = s.indexOf('{', j);
        const preludeEnd = brace === -1 || brace > end ? end : brace;
        for (let k = s.indexOf('(', j); k !== -1 && k < preludeEnd; k = s.indexOf('(', k + 1)) {
          let m = k + 1;
          while (m < preludeEnd && s.charCodeAt(m) === 0x20) m++;
          let e = m;
          while (e < preludeEnd && isIdent(s.charCodeAt(e))) e++;
          const slug = MEDIA_FEATURE_SLUG[s.slice(m, e).toLowerCase()];
          if (slug !== undefined) f.add(slug, k);
        }
        i = preludeEnd;
        continue;
      }
      i = j;
      continue;
    }
    if (c === 0x7b) { // {
      depth++;
      where = 'name';
      tokenStart = i + 1;
      i++;
      continue;
    }
    if (c === 0x7d) { // }
      depth = Math.max(0, depth - 1);
      where = inline ? 'name' : 'selector';
      tokenStart = i + 1;
      i++;
      continue;
    }
    if (where === 'selector') {
      if (c === 0x3a) { // :pseudo or ::pseudo
        const element = s.charCodeAt(i + 1) === 0x3a;
        let j = i + (element ? 2 : 1);
        const nameStart = j;
        while (j < end && isIdent(s.charCodeAt(j))) j++;
        const name = s.slice(nameStart, j).toLowerCase();
        const legacyElement = ['before', 'after', 'first-letter', 'first-line'].includes(name);
        f.add(element || legacyElement ? `css-pseudo-element-${name}` : `css-pseudo-class-${name}`, i);
        i = j;
        continue;
      }
      if (c === 0x2e) f.add('css-selector-class', i);
      else if (c === 0x23) f.add('css-selector-id', i);
      else if (c === 0x5b) f.add('css-selector-attribute', i);
      else if (c === 0x3e) f.add('css-selector-child', i);
      else if (c === 0x2b) f.add('css-selector-adjacent-sibling', i);
      else if (c === 0x7e) f.add('css-selector-general-sibling', i);
      else if (c === 0x2c) f.add('css-selector-grouping', i);
      else if (c === 0x2a) f.add('css-selector-universal', i);
      i++;
      continue;
    }
    if (where === 'name') {
      if (c === 0x3a) {
        property = s.slice(tokenStart, i).trim().toLowerCase();
        if (property.startsWith('--')) f.add('css-variables', tokenStart);
        else if (property !== '') f.add(propertySlug(f, property), tokenStart);
        where = 'value';
        tokenStart = i + 1;
      } else if (c === 0x3b) tokenStart = i + 1;
      i++;
      continue;
    }
    // In a value: up to `;` or `}` (handled above).
    if (c === 0x3b) {
      where = 'name';
      tokenStart = i + 1;
      i++;
      continue;
    }
    if (c === 0x21 && s.slice(i + 1, i + 10).toLowerCase().trimStart().startsWith('important')) {
      f.add('css-important', i);
      i++;
      continue;
    }
    if (isIdent(c)) {
      let j = i;
      while (j < end && isIdent(s.charCodeAt(j))) j++;
      const word = s.slice(i, j).toLowerCase();
      if (s.charCodeAt(j) === 0x28) { // a function
        const slug = FUNCTION_SLUG[word];
        if (slug !== undefined) f.add(slug, i);
        if (word === 'url') {
          const close = s.indexOf(')', j);
          const inner = s.slice(j + 1, close === -1 || close > end ? Math.min(end, j + 2049) : close).trim().replace(/^['"]|['"]$/g, '');
          if (isRemote(inner)) f.remote.add(inner);
          i = close === -1 || close > end ? end : close + 1;
          continue;
        }
      } else if (property === 'display' && ['flex', 'inline-flex', 'grid', 'inline-grid', 'none'].includes(word)) {
        f.add(`css-display-${word.replace('inline-', '')}`, i);
      } else if (c >= 0x30 && c <= 0x39) { // a number, then its unit
        let k = i;
        while (k < j && ((s.charCodeAt(k) >= 0x30 && s.charCodeAt(k) <= 0x39) || s.charCodeAt(k) === 0x2e)) k++;
        const unit = UNIT_SLUG[s.slice(k, j).toLowerCase()];
        if (unit !== undefined) f.add(unit, i);
        else if (s.charCodeAt(j) === 0x25) f.add('css-unit-percent', i);
      }
      i = j;
      continue;
    }
    i++;
  }
  void depth;
}

/** The features of `html`, found in one pass over it (and one over each stylesheet). */
export function findFeatures(html: string): Finder {
  const f = new Finder(html);
  scanHtml(html, {
    tag: (tag) => onTag(f, tag),
    rawText: (element, start, end) => {
      if (element === 'style') scanCss(f, html, start, end, false);
    },
    other: (start, _end, doctype) => f.add(doctype ? 'html-doctype' : 'html-comments', start),
  });
  return f;
}

function latest(versions: Readonly<Record<string, string>>): { version: string; value: string } | null {
  const keys = Object.keys(versions);
  if (keys.length === 0) return null;
  const version = keys[keys.length - 1] as string; // caniemail lists versions oldest first
  return { version, value: versions[version] as string };
}

export function checkHtml(html: string, clients?: readonly string[]): HtmlCheckReport {
  const { data: d, bySlug, support: supportOf } = load();
  const wanted = new Set(clients ?? load().clients);
  const f = findFeatures(html);
  const features: FoundFeature[] = [];
  const tally = new Map<string, { y: number; a: number; n: number; u: number }>([...wanted].map((c) => [c, { y: 0, a: 0, n: 0, u: 0 }]));
  for (const [slug, where] of [...f.found].sort(([a], [b]) => a.localeCompare(b))) {
    const feature = bySlug.get(slug) as CanIEmailFeature;
    const support: Record<string, FeatureSupport> = {};
    for (const [id, s] of supportOf.get(slug) ?? []) {
      if (!wanted.has(id)) continue;
      support[id] = s;
      const t = tally.get(id);
      if (t !== undefined) t[s.support]++;
    }
    features.push({ slug, title: feature.title, category: feature.category, url: feature.url, places: where.places, occurrences: where.occurrences, support });
  }
  const clientsOut: ClientScore[] = [...tally].map(([client, t]) => {
    const known = t.y + t.a + t.n;
    const [family, platform] = client.split('.') as [string, string];
    return {
      client, name: `${d.nicenames.family[family] ?? family} (${d.nicenames.platform[platform] ?? platform})`,
      score: known === 0 ? 1 : (t.y + t.a / 2) / known, supported: t.y, partial: t.a, unsupported: t.n, unknown: t.u,
    };
  }).sort((a, b) => a.client.localeCompare(b.client));
  const score = clientsOut.length === 0 ? 1 : clientsOut.reduce((s, c) => s + c.score, 0) / clientsOut.length;
  return { dataDate: d.last_update_date, features, clients: clientsOut, score, remote: [...f.remote] };
}
