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
  /** Each slug's and each client id's place in localeCompare's order (sorting by it is that order, without ICU per pair). */
  slugRank: ReadonlyMap<string, number>;
  clientRank: ReadonlyMap<string, number>;
  clients: readonly string[];
  bySlug: ReadonlyMap<string, CanIEmailFeature>;
  support: ReadonlyMap<string, ReadonlyMap<string, FeatureSupport>>;
  /** Per client id in `clients`' order, its name (`Gmail (Android)`). */
  names: readonly string[];
  /** Per feature, its support in every client, as a report gives it (shared by the reports: they are read-only). */
  everyClient: ReadonlyMap<string, Readonly<Record<string, FeatureSupport>>>;
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
  const ids = [...clients].sort();
  const names = ids.map((client) => {
    const [family, platform] = client.split('.') as [string, string];
    return `${d.nicenames.family[family] ?? family} (${d.nicenames.platform[platform] ?? platform})`;
  });
  const everyClient = new Map([...support].map(([slug, per]) => [slug, Object.freeze(Object.fromEntries(per))]));
  const collate = new Intl.Collator().compare; // localeCompare's order, from one collator
  const ranks = (xs: readonly string[]): Map<string, number> => new Map([...xs].sort(collate).map((x, n) => [x, n]));
  loaded = { data: d, slugs: new Set(d.data.map((f) => f.slug)), slugRank: ranks(d.data.map((f) => f.slug)), clientRank: ranks(ids), clients: ids, names, bySlug: new Map(d.data.map((f) => [f.slug, f])), support, everyClient };
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

/**
 * What a short name (an element's, a CSS property's, a unit's) stands for, found without slicing it out: the names seen before
 * are kept by length and first character, and compared where they lie. A name not seen is sliced once and `make` says
 * what it stands for; at most 1000 names are remembered (past that, each new one is made anew), none over 40 long.
 */
class SpanCache<V> {
  readonly #byShape: Array<Array<{ key: string; value: V }> | undefined> = Array.from({ length: 41 * 128 }, () => undefined);
  #size = 0;
  constructor(private readonly make: (key: string) => V) {}

  get(s: string, from: number, to: number): V {
    const length = to - from;
    const shape = length <= 40 ? length * 128 + (lowerAscii(s.charCodeAt(from)) & 127) : -1;
    const seen = shape === -1 ? undefined : this.#byShape[shape];
    if (seen !== undefined) {
      for (let k = 0; k < seen.length; k++) {
        const e = seen[k] as { key: string; value: V };
        if (sameLower(s, from, e.key)) return e.value;
      }
    }
    const key = s.slice(from, to).toLowerCase();
    const value = this.make(key);
    if (shape !== -1 && this.#size < 1000) {
      this.#size++;
      if (seen === undefined) this.#byShape[shape] = [{ key, value }];
      else seen.push({ key, value });
    }
    return value;
  }
}
const lowerAscii = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
/** s[at, at + key.length), ASCII-lowercased, is `key` (a lowercased string: non-ASCII letters in it never match). */
function sameLower(s: string, at: number, key: string): boolean {
  for (let i = 0; i < key.length; i++) if (lowerAscii(s.charCodeAt(at + i)) !== key.charCodeAt(i)) return false;
  return true;
}

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
    let entry = this.found.get(slug);
    if (entry === undefined) {
      if (!this.#known.has(slug)) return;
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

/**
 * Per element name, its slug (`html-<name>` or ELEMENT_SLUG's), or null when caniemail has none: tag names repeat, so
 * each is made and looked up once, and found again where it lies in the HTML (no hashing of a new string per tag).
 */
const elementSlugs = new SpanCache<string | null>((name) => {
  const own = ELEMENT_SLUG[name] ?? `html-${name}`;
  return load().slugs.has(own) ? own : null;
});

/** The attribute names onTag reads or reports, by shape: ATTRIBUTES_BY_SHAPE[length * 128 + first character]. */
type KnownAttribute = Readonly<{ name: string; slug: string | undefined }>;
const READ_ATTRIBUTES = ['style', 'type', 'href', 'name', 'rel', 'src'] as const;
const MAX_ATTRIBUTE = 20;
const ATTRIBUTES_BY_SHAPE: Array<KnownAttribute[] | undefined> = Array.from({ length: (MAX_ATTRIBUTE + 1) * 128 }, () => undefined);
for (const name of [...Object.keys(ATTRIBUTE_SLUG), ...READ_ATTRIBUTES]) {
  const shape = name.length * 128 + name.charCodeAt(0);
  (ATTRIBUTES_BY_SHAPE[shape] ??= []).push({ name, slug: ATTRIBUTE_SLUG[name] });
}
/** Attribute k among those above (matched in any case, without slicing its name out), or null. */
function knownAttribute(html: string, attrs: HtmlTag['attributes'], k: number): KnownAttribute | null {
  const length = attrs.nameLength(k);
  if (length > MAX_ATTRIBUTE) return null;
  const candidates = ATTRIBUTES_BY_SHAPE[length * 128 + (lowerAscii(html.charCodeAt(attrs.start(k))) & 127)];
  if (candidates === undefined) return null;
  for (const a of candidates) if (sameLower(html, attrs.start(k), a.name)) return a;
  return null;
}

/** s[from, to), blanks first left out, loads from the network: `http://`, `https://` or `//` (any case). */
function isRemoteAt(s: string, from: number, to: number): boolean {
  let i = from;
  while (i < to && isBlank(s.charCodeAt(i))) i++;
  if (i + 2 <= to && s.charCodeAt(i) === 0x2f && s.charCodeAt(i + 1) === 0x2f) return true;
  return (i + 7 <= to && sameLower(s, i, 'http://')) || (i + 8 <= to && sameLower(s, i, 'https://'));
}
const isRemote = (url: string): boolean => isRemoteAt(url, 0, url.length);
const isQuote = (c: number): boolean => c === 0x22 || c === 0x27;

/**
 * The image format a URL names: a `data:image/<type>` URI's type, else the extension (2 to 5 letters or digits, the
 * first one in the last 200 characters that a `?`, a `#` or the end follows), lowercased; undefined when none.
 */
function imageFormat(url: string): string | undefined {
  let i = 0;
  while (i < url.length && isBlank(url.charCodeAt(i))) i++;
  if (sameLower(url, i, 'data:image/')) {
    let j = i + 11;
    while (j < url.length && j < i + 31 && isMimeSubtype(url.charCodeAt(j))) j++;
    return j === i + 11 ? undefined : url.slice(i + 11, j).toLowerCase().replace('svg+xml', 'svg');
  }
  for (let dot = url.indexOf('.', Math.max(0, url.length - 200)); dot !== -1; dot = url.indexOf('.', dot + 1)) {
    let j = dot + 1;
    while (j < url.length && j <= dot + 6 && isAlnum(url.charCodeAt(j))) j++;
    const after = url.charCodeAt(j);
    if (j - dot - 1 >= 2 && j - dot - 1 <= 5 && (j === url.length || after === 0x3f || after === 0x23)) return url.slice(dot + 1, j).toLowerCase();
  }
  return undefined;
}
/** A letter of a data: URI's image type (`png`, `svg+xml`): a-z in any case, `+`, `.`, `-`. */
const isMimeSubtype = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2b || c === 0x2e || c === 0x2d;
const isAlnum = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);

function onTag(f: Finder, tag: HtmlTag): void {
  if (tag.closing) return;
  const name = tag.name;
  const own = elementSlugs.get(f.html, tag.start + 1, tag.start + 1 + name.length);
  if (own !== null) f.add(own, tag.start);
  const attrs = tag.attributes;
  // The values onTag reads, the first of each name (as a browser takes it).
  let type: string | null = null;
  let href: string | null = null;
  let metaName: string | null = null;
  let rel: string | null = null;
  let src: string | null = null;
  let background: string | null = null;
  for (let k = 0; k < attrs.length; k++) {
    const known = knownAttribute(f.html, attrs, k);
    if (known === null) continue;
    if (known.slug !== undefined) f.add(known.slug, attrs.start(k));
    switch (known.name) {
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
    const link = href ?? '';
    let at = 0;
    while (at < link.length && isBlank(link.charCodeAt(at))) at++;
    if (link.charCodeAt(at) === 0x23) f.add('html-anchor-links', tag.start);
    else if (sameLower(link, at, 'mailto:')) f.add('html-mailto-links', tag.start);
  }
  if (name === 'meta' && (metaName ?? '').toLowerCase() === 'color-scheme') f.add('html-meta-color-scheme', tag.start);
  if (name === 'link' && /stylesheet/i.test(rel ?? '') && href !== null && isRemote(href)) f.remote.add(href.trim());
  if (name === 'img' || name === 'source' || name === 'video' || name === 'audio') {
    const url = (src ?? '').trim();
    if (url !== '') {
      if (isRemote(url)) f.remote.add(url);
      if (sameLower(url, 0, 'data:image/') && isMimeSubtype(url.charCodeAt(11))) f.add('image-base64', tag.start);
      const ext = imageFormat(url);
      const slug = ext === undefined ? undefined : IMAGE_EXT[ext];
      if (slug !== undefined) f.add(slug, tag.start);
    }
  }
  if (background !== null && isRemote(background)) f.remote.add(background.trim());
}

/** `css-<property>`, or for a longhand caniemail does not list (`margin-top`), its shorthand's (`css-margin`). */
function propertySlug(property: string): string {
  const own = `css-${property.replace(/^-(webkit|moz|ms|o)-/, '')}`;
  if (load().slugs.has(own)) return own;
  if (['left', 'right', 'top', 'bottom'].includes(property)) return 'css-left-right-top-bottom';
  const dash = property.indexOf('-');
  return dash === -1 ? own : `css-${property.slice(0, dash)}`;
}

/** Per property name, its slug; per unit, its slug or undefined. */
const properties = new SpanCache(propertySlug);
const units = new SpanCache<string | undefined>((unit) => UNIT_SLUG[unit]);
const functions = new SpanCache((name) => name);

const isIdent = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;

/** Where the CSS scanner is: in a selector (a stylesheet, before `{`), or in a declaration's name or value. */
const SELECTOR = 0;
const NAME = 1;
const VALUE = 2;

/**
 * One forward pass over CSS in html[start, end): comments, at-rules, selectors (in a stylesheet), declarations with
 * their values (units, functions, !important, display values, url()s). `inline`: a style attribute (declarations only).
 * Nothing is sliced out but what is looked up: a property name, a function name, a unit, a `display` value.
 */
function scanCss(f: Finder, s: string, start: number, end: number, inline: boolean): void {
  let i = start;
  let where = inline ? NAME : SELECTOR;
  let display = false;
  let tokenStart = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 0x2f && s.charCodeAt(i + 1) === 0x2a) { // /* … */
      f.add('css-comments', i);
      const close = s.indexOf('*/', i + 2);
      i = close === -1 || close >= end ? end : close + 2;
      continue;
    }
    if (c === 0x40 && where !== VALUE) { // @rule
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
    if (c === 0x7b || c === 0x7d) { // { or }
      where = c === 0x7b || inline ? NAME : SELECTOR;
      tokenStart = i + 1;
      i++;
      continue;
    }
    if (where === SELECTOR) {
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
    if (where === NAME) {
      if (c === 0x3a) {
        let from = tokenStart;
        let to = i;
        while (from < to && isBlank(s.charCodeAt(from))) from++;
        while (to > from && isBlank(s.charCodeAt(to - 1))) to--;
        display = false;
        if (to > from) {
          if (s.charCodeAt(from) === 0x2d && s.charCodeAt(from + 1) === 0x2d) f.add('css-variables', tokenStart);
          else {
            const slug = properties.get(s, from, to);
            display = slug === 'css-display';
            f.add(slug, tokenStart);
          }
        }
        where = VALUE;
        tokenStart = i + 1;
      } else if (c === 0x3b) tokenStart = i + 1;
      i++;
      continue;
    }
    // In a value: up to `;` or `}` (handled above).
    if (c === 0x3b) {
      where = NAME;
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
      let j = i + 1;
      while (j < end && isIdent(s.charCodeAt(j))) j++;
      if (s.charCodeAt(j) === 0x28) { // a function
        const word = functions.get(s, i, j);
        const slug = FUNCTION_SLUG[word];
        if (slug !== undefined) f.add(slug, i);
        if (word === 'url') {
          const close = s.indexOf(')', j);
          // Its argument, blanks and one quote at each end left out.
          let from = j + 1;
          let to = close === -1 || close > end ? Math.min(end, j + 2049) : close;
          while (from < to && isBlank(s.charCodeAt(from))) from++;
          while (to > from && isBlank(s.charCodeAt(to - 1))) to--;
          if (from < to && isQuote(s.charCodeAt(from))) from++;
          if (to > from && isQuote(s.charCodeAt(to - 1))) to--;
          if (isRemoteAt(s, from, to)) f.remote.add(s.slice(from, to));
          i = close === -1 || close > end ? end : close + 1;
          continue;
        }
      } else if (display) {
        const word = s.slice(i, j).toLowerCase();
        if (['flex', 'inline-flex', 'grid', 'inline-grid', 'none'].includes(word)) f.add(`css-display-${word.replace('inline-', '')}`, i);
      } else if (isDigit(c)) { // a number, then its unit
        let k = i + 1;
        while (k < j && (isDigit(s.charCodeAt(k)) || s.charCodeAt(k) === 0x2e)) k++;
        if (k < j) {
          const unit = units.get(s, k, j);
          if (unit !== undefined) f.add(unit, i);
        } else if (s.charCodeAt(j) === 0x25) f.add('css-unit-percent', i);
      }
      i = j;
      continue;
    }
    i++;
  }
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
  const { data: d, bySlug, support: supportOf, clients: allClients, names, everyClient, slugRank, clientRank } = load();
  const wanted = clients === undefined ? null : new Set(clients);
  const f = findFeatures(html);
  const features: FoundFeature[] = [];
  /** Per client of allClients: how many of the features it supports (y), partly (a), not (n), unknown (u). */
  const tally = allClients.map(() => ({ y: 0, a: 0, n: 0, u: 0 }));
  const index = new Map(allClients.map((c, k) => [c, k]));
  for (const [slug, where] of [...f.found].sort(([a], [b]) => (slugRank.get(a) ?? 0) - (slugRank.get(b) ?? 0))) {
    const feature = bySlug.get(slug) as CanIEmailFeature;
    let support: Readonly<Record<string, FeatureSupport>>;
    if (wanted === null) support = everyClient.get(slug) ?? {};
    else {
      const chosen: Record<string, FeatureSupport> = {};
      for (const [id, s] of supportOf.get(slug) ?? []) if (wanted.has(id)) chosen[id] = s;
      support = chosen;
    }
    for (const [id, s] of supportOf.get(slug) ?? []) (tally[index.get(id) as number] as { y: number; a: number; n: number; u: number })[s.support]++;
    features.push({ slug, title: feature.title, category: feature.category, url: feature.url, places: where.places, occurrences: where.occurrences, support });
  }
  const clientsOut: ClientScore[] = [];
  allClients.forEach((client, k) => {
    if (wanted !== null && !wanted.has(client)) return;
    const t = tally[k] as { y: number; a: number; n: number; u: number };
    const known = t.y + t.a + t.n;
    clientsOut.push({
      client, name: names[k] as string,
      score: known === 0 ? 1 : (t.y + t.a / 2) / known, supported: t.y, partial: t.a, unsupported: t.n, unknown: t.u,
    });
  });
  clientsOut.sort((a, b) => (clientRank.get(a.client) ?? 0) - (clientRank.get(b.client) ?? 0));
  const score = clientsOut.length === 0 ? 1 : clientsOut.reduce((s, c) => s + c.score, 0) / clientsOut.length;
  return { dataDate: d.last_update_date, features, clients: clientsOut, score, remote: [...f.remote] };
}
