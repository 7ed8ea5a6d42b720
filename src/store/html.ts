/**
 * Every pass mailwire makes over a mail's HTML, on one tokenizer: the text the index reads (htmlToText), the text an
 * agent reads (htmlAsText), the hrefs (htmlLinks), whether it loads anything from the network (hasRemoteContent), and
 * the preview's rewrites (withoutScripts, withBaseTarget). The index, the API, MCP and the UI (which takes the
 * server's verdict) all use these, so each rule has one home.
 *
 * All mail is untrusted, so the tokenizer is linear by construction: one forward scan, each search (indexOf) starts
 * where the last one stopped, nothing is ever scanned twice except the end-tag search of a raw text element (script,
 * style ...), whose result is remembered per element name so that the same stretch is never searched again (a run of
 * unclosed `<script>` costs one search to the end, not one each). No regular expression runs over the HTML.
 * test/store/linear.test.ts holds every function here to time(4n) / time(n) < 8 on adversarial input.
 *
 * It follows HTML's tokenizer where it matters for these uses: a `<` starts a tag only before an ASCII letter (or
 * `/` and a letter), quoted attribute values may hold `>`, comments run to `-->`, and the content of raw text elements
 * is not markup. One deliberate difference: a raw text element with no end tag is taken as a lone start tag and what
 * follows is tokenized as markup (a browser would make it all script text), so that a stray `<script>` neither hides
 * the rest of a mail from the index nor shields it from withoutScripts.
 */

/**
 * The attributes of one tag, as offsets into the HTML (no object or string per attribute: a tag of a million
 * attributes costs no more to collect than the text it spans). Valid only during the visitor's call.
 */
export class HtmlAttributes {
  readonly #html: string;
  readonly #at: Int32Array;
  readonly length: number;
  constructor(html: string, at: Int32Array, length: number) {
    this.#html = html;
    this.#at = at;
    this.length = length;
  }
  /** Where attribute k starts (its name) and ends (past its value and closing quote). */
  start(k: number): number { return this.#at[5 * k] ?? 0; }
  end(k: number): number { return this.#at[5 * k + 4] ?? 0; }
  /** Its value, quotes excluded; valueStart -1: it has none. */
  valueStart(k: number): number { return this.#at[5 * k + 2] ?? -1; }
  valueEnd(k: number): number { return this.#at[5 * k + 3] ?? -1; }
  nameLength(k: number): number { return (this.#at[5 * k + 1] ?? 0) - this.start(k); }
  /** True when attribute k is named `name` (lowercase ASCII), in any case. */
  is(k: number, name: string): boolean { return this.nameLength(k) === name.length && matchesLower(this.#html, this.start(k), name); }
  value(k: number): string { return this.valueStart(k) === -1 ? '' : this.#html.slice(this.valueStart(k), this.valueEnd(k)); }
}

export type HtmlTag = Readonly<{
  /** Lowercased (ASCII). */
  name: string;
  closing: boolean;
  start: number;
  /** Just past its `>`. */
  end: number;
  attributes: HtmlAttributes;
}>;

export type HtmlVisitor = Readonly<{
  text?: (start: number, end: number) => void;
  tag?: (tag: HtmlTag) => void;
  /** The content of a raw text element (script, style, xmp, iframe, noembed, noframes; title and textarea too). */
  rawText?: (element: string, start: number, end: number) => void;
  /** Comments, doctypes, processing instructions: `<!...>`, `<?...>`. `doctype`: it is a `<!doctype ...>`. */
  other?: (start: number, end: number, doctype: boolean) => void;
  /** A tag cut off by the end of the input (a browser drops it): [start, html.length). */
  unfinished?: (start: number) => void;
}>;

/** Elements whose content is text, not markup, up to their end tag. */
const RAW_TEXT = new Set(['script', 'style', 'xmp', 'iframe', 'noembed', 'noframes', 'title', 'textarea']);

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
/** HTML's whitespace: tab, LF, FF, CR, space. */
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
const lowerAscii = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/** True when html[at, at + word.length) is `word` (lowercase ASCII), ignoring ASCII case. */
function matchesLower(html: string, at: number, word: string): boolean {
  if (at + word.length > html.length) return false;
  for (let i = 0; i < word.length; i++) if (lowerAscii(html.charCodeAt(at + i)) !== word.charCodeAt(i)) return false;
  return true;
}

/** Calls `visitor` for each token of `html`, in order; the tokens cover the input without gaps or overlaps. */
export function scanHtml(html: string, visitor: HtmlVisitor): void {
  const n = html.length;
  /** Per raw text element: the last end-tag search, from `from`, found `at` (-1: none from there to the end). */
  const endTags = new Map<string, { from: number; at: number }>();
  const findEndTag = (name: string, from: number): number => {
    const memo = endTags.get(name);
    if (memo !== undefined && from >= memo.from && (memo.at === -1 || from <= memo.at)) return memo.at;
    let at = -1;
    for (let i = html.indexOf('</', from); i !== -1; i = html.indexOf('</', i + 2)) {
      const after = html.charCodeAt(i + 2 + name.length);
      if (matchesLower(html, i + 2, name) && (i + 2 + name.length === n || isSpace(after) || after === 0x2f || after === 0x3e)) {
        at = i;
        break;
      }
    }
    endTags.set(name, { from, at });
    return at;
  };

  const buffer: AttributeBuffer = { at: new Int32Array(5 * 16) };
  let textStart = 0;
  let i = 0;
  const flushText = (end: number): void => {
    if (end > textStart) visitor.text?.(textStart, end);
  };
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt === -1) break;
    const c = html.charCodeAt(lt + 1);
    if (c === 0x21 || c === 0x3f) { // <! or <?
      flushText(lt);
      let end: number;
      let doctype = false;
      if (c === 0x21 && html.startsWith('--', lt + 2)) {
        const close = html.indexOf('-->', lt + 4);
        end = html.startsWith('>', lt + 4) ? lt + 5 : html.startsWith('->', lt + 4) ? lt + 6 : close === -1 ? n : close + 3;
      } else {
        doctype = c === 0x21 && matchesLower(html, lt + 2, 'doctype');
        const close = html.indexOf('>', lt + 2);
        end = close === -1 ? n : close + 1;
      }
      visitor.other?.(lt, end, doctype);
      i = textStart = end;
      continue;
    }
    const closing = c === 0x2f;
    if (!(isAlpha(c) || (closing && isAlpha(html.charCodeAt(lt + 2))))) {
      i = lt + 1; // a `<` that starts no tag is text
      continue;
    }
    const tag = readTag(html, lt, closing, buffer);
    flushText(lt);
    if (tag === null) {
      visitor.unfinished?.(lt);
      textStart = i = n;
      break;
    }
    visitor.tag?.(tag);
    i = textStart = tag.end;
    if (!closing && RAW_TEXT.has(tag.name)) {
      const close = findEndTag(tag.name, tag.end);
      if (close !== -1) {
        if (close > tag.end) visitor.rawText?.(tag.name, tag.end, close);
        i = textStart = close; // the end tag is read as a tag next
      }
    }
  }
  if (n > textStart) visitor.text?.(textStart, n);
}

/** Room for the attributes of the tag being read: five numbers each, grown by doubling. */
type AttributeBuffer = { at: Int32Array };

/** The tag starting at html[lt] (`<` then a letter, or `</` then a letter); null when the input ends inside it. */
function readTag(html: string, lt: number, closing: boolean, buffer: AttributeBuffer): HtmlTag | null {
  const n = html.length;
  let i = lt + (closing ? 2 : 1);
  const nameStart = i;
  while (i < n) {
    const c = html.charCodeAt(i);
    if (isSpace(c) || c === 0x2f || c === 0x3e) break;
    i++;
  }
  const nameEnd = i;
  let count = 0;
  const push = (start: number, end: number, valueStart: number, valueEnd: number, attrEnd: number): void => {
    if (5 * count + 5 > buffer.at.length) {
      const bigger = new Int32Array(buffer.at.length * 2);
      bigger.set(buffer.at);
      buffer.at = bigger;
    }
    const at = buffer.at;
    const o = 5 * count++;
    at[o] = start;
    at[o + 1] = end;
    at[o + 2] = valueStart;
    at[o + 3] = valueEnd;
    at[o + 4] = attrEnd;
  };
  while (i < n) {
    let c = html.charCodeAt(i);
    if (isSpace(c) || c === 0x2f) {
      i++;
      continue;
    }
    if (c === 0x3e) {
      return { name: html.slice(nameStart, nameEnd).toLowerCase(), closing, start: lt, end: i + 1, attributes: new HtmlAttributes(html, buffer.at, count) };
    }
    const start = i;
    i++; // the first character of a name may be anything else, `=` included
    while (i < n) {
      c = html.charCodeAt(i);
      if (isSpace(c) || c === 0x2f || c === 0x3e || c === 0x3d) break;
      i++;
    }
    const end = i;
    let j = i;
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    if (html.charCodeAt(j) !== 0x3d) {
      push(start, end, -1, -1, end);
      continue; // i stays before the whitespace: it is skipped above
    }
    j++;
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    if (j >= n) return null;
    const q = html.charCodeAt(j);
    if (q === 0x22 || q === 0x27) {
      const close = html.indexOf(q === 0x22 ? '"' : "'", j + 1);
      if (close === -1) return null;
      push(start, end, j + 1, close, close + 1);
      i = close + 1;
      continue;
    }
    let k = j;
    while (k < n) {
      c = html.charCodeAt(k);
      if (isSpace(c) || c === 0x3e) break;
      k++;
    }
    push(start, end, j, k, k);
    i = k;
  }
  return null;
}

// ---- entities ----------------------------------------------------------------------------------------------------

const NAMED: Readonly<Record<string, string>> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** The longest reference decoded: `&#x10FFFF;` and the names above. */
const MAX_REFERENCE = 10;

/**
 * `s` with character references decoded: the named ones above (any case; &nbsp; becomes a space, as the index wants)
 * and numeric ones (`&#39;`, `&#x27;`). A linear scan; each `&` looks at most MAX_REFERENCE characters ahead.
 */
export function decodeEntities(s: string): string {
  let amp = s.indexOf('&');
  if (amp === -1) return s;
  let out = '';
  let from = 0;
  for (; amp !== -1; amp = s.indexOf('&', amp + 1)) {
    let semi = -1;
    for (let k = amp + 1; k < s.length && k <= amp + MAX_REFERENCE; k++) {
      if (s.charCodeAt(k) === 0x3b) {
        semi = k;
        break;
      }
    }
    if (semi === -1) continue;
    const ref = s.slice(amp + 1, semi);
    let value: string | undefined;
    if (ref.startsWith('#')) {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1);
      if (digits !== '' && (hex ? /^[0-9a-f]+$/i : /^[0-9]+$/).test(digits)) { // at most 8 characters
        const code = Number.parseInt(digits, hex ? 16 : 10);
        value = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '\ufffd';
      }
    } else value = NAMED[ref.toLowerCase()];
    if (value === undefined) continue;
    out += s.slice(from, amp) + value;
    from = semi + 1;
    amp = semi;
  }
  return out + s.slice(from);
}

// ---- text --------------------------------------------------------------------------------------------------------

/**
 * Rough HTML to text, for the index, snippets and link and code finding: every tag, comment and doctype becomes a
 * space, script and style contents go, character references are decoded.
 */
export function htmlToText(html: string): string {
  const parts: string[] = [];
  scanHtml(html, {
    text: (start, end) => parts.push(html.slice(start, end)),
    rawText: (element, start, end) => {
      if (element === 'title' || element === 'textarea' || element === 'xmp') parts.push(html.slice(start, end));
    },
    tag: () => parts.push(' '),
    other: () => parts.push(' '),
  });
  return decodeEntities(parts.join(''));
}

/** Elements that start a new line in htmlAsText. */
const BLOCKS = new Set(['p', 'div', 'br', 'li', 'tr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'ul', 'ol', 'blockquote',
  'pre', 'hr', 'section', 'article', 'header', 'footer']);

/**
 * HTML as an agent reads it (MCP): a line per block (p, div, br, li, tr, headings ...), inline tags gone without a
 * gap, the head, scripts and styles left out, references decoded, runs of blanks made one space and of empty lines
 * one empty line.
 */
export function htmlAsText(html: string): string {
  const parts: string[] = [];
  let inHead = false;
  scanHtml(html, {
    text: (start, end) => {
      if (!inHead) parts.push(html.slice(start, end));
    },
    rawText: (element, start, end) => {
      if (!inHead && (element === 'textarea' || element === 'xmp')) parts.push(html.slice(start, end));
    },
    tag: (t) => {
      if (t.name === 'head') inHead = !t.closing;
      else if (t.name === 'body' && !t.closing) inHead = false;
      else if (!inHead && BLOCKS.has(t.name)) parts.push('\n');
    },
  });
  const lines = decodeEntities(parts.join('')).split('\n').map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim());
  const out: string[] = [];
  for (const l of lines) if (l !== '' || (out.length > 0 && out[out.length - 1] !== '')) out.push(l);
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out.join('\n');
}

/** The values of the href attributes, references decoded and trimmed, in order. */
export function htmlLinks(html: string): string[] {
  const out: string[] = [];
  scanHtml(html, {
    tag: (t) => {
      if (t.closing) return;
      const a = t.attributes;
      for (let k = 0; k < a.length; k++) if (a.is(k, 'href') && a.valueStart(k) !== -1) out.push(decodeEntities(a.value(k)).trim());
    },
  });
  return out;
}

// ---- remote content ----------------------------------------------------------------------------------------------

/** A URL that loads from the network: http:, https: or scheme-relative, after leading blanks and quotes. */
function isRemoteUrl(s: string, from: number, to: number): boolean {
  let i = from;
  while (i < to && (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 0x22 || s.charCodeAt(i) === 0x27)) i++;
  if (matchesLower(s, i, 'http://') || matchesLower(s, i, 'https://')) return i + 7 <= to;
  return s.startsWith('//', i) && i + 2 <= to;
}

/** CSS in [from, to) that loads from the network: a url(...) or an @import "..." of a remote URL. */
function cssIsRemote(s: string, from: number, to: number): boolean {
  const css = s.slice(from, to).toLowerCase(); // offsets below are into this copy
  for (let at = css.indexOf('url(', 0); at !== -1; at = css.indexOf('url(', at + 4)) if (isRemoteUrl(css, at + 4, css.length)) return true;
  for (let at = css.indexOf('@import', 0); at !== -1; at = css.indexOf('@import', at + 7)) if (isRemoteUrl(css, at + 7, css.length)) return true;
  return false;
}

/** Attributes whose URL an email client loads without a click. */
const LOADING = ['src', 'background', 'poster', 'lowsrc', 'dynsrc'] as const;

/**
 * True when the HTML loads something from the network when shown (images, backgrounds, stylesheets, fonts ...): what
 * the UI blocks until asked. The server's verdict, in the message's JSON as `remoteContent`.
 */
export function hasRemoteContent(html: string): boolean {
  let remote = false;
  scanHtml(html, {
    tag: (t) => {
      if (remote || t.closing) return;
      const a = t.attributes;
      for (let k = 0; k < a.length && !remote; k++) {
        const from = a.valueStart(k);
        const to = a.valueEnd(k);
        if (from === -1) continue;
        if (LOADING.some((name) => a.is(k, name)) || (t.name === 'link' && a.is(k, 'href'))) remote = isRemoteUrl(html, from, to);
        else if (a.is(k, 'srcset')) remote = a.value(k).split(',').some((c) => isRemoteUrl(c, 0, c.length));
        else if (a.is(k, 'style')) remote = cssIsRemote(html, from, to);
      }
    },
    rawText: (element, start, end) => {
      if (!remote && element === 'style') remote = cssIsRemote(html, start, end);
    },
  });
  return remote;
}

// ---- the preview's rewrites --------------------------------------------------------------------------------------

/** Is attribute k an event handler: `on` and at least one more letter, nothing else. */
function isHandler(html: string, a: HtmlAttributes, k: number): boolean {
  const start = a.start(k);
  const length = a.nameLength(k);
  if (length < 3 || !matchesLower(html, start, 'on')) return false;
  for (let i = start + 2; i < start + length; i++) if (!isAlpha(html.charCodeAt(i))) return false;
  return true;
}
/** Attributes holding a URL a click or a load follows. */
const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'xlink:href', 'background', 'poster', 'data'] as const;

/**
 * Defence in depth behind the preview's CSP sandbox: no script elements (an unclosed `<script>` loses its start tag),
 * no event handler attributes, and `javascript:` URLs made `#...`. Everything else stays as written.
 */
export function withoutScripts(html: string): string {
  const out: string[] = [];
  let from = 0;
  const cut = (start: number, end: number, put = ''): void => {
    out.push(html.slice(from, start), put);
    from = end;
  };
  /** A script start tag not yet followed by its end tag: [start, end). */
  let open: { start: number; end: number } | null = null;
  const dropLoneStartTag = (): void => {
    if (open !== null) cut(open.start, open.end);
    open = null;
  };
  scanHtml(html, {
    tag: (t) => {
      if (t.name === 'script') {
        if (!t.closing) {
          dropLoneStartTag();
          open = { start: t.start, end: t.end };
        } else {
          cut(open === null ? t.start : open.start, t.end); // the whole element, or a stray end tag
          open = null;
        }
        return;
      }
      dropLoneStartTag();
      if (t.closing) return;
      const a = t.attributes;
      for (let k = 0; k < a.length; k++) {
        if (isHandler(html, a, k)) {
          let s = a.start(k);
          while (s > from && isSpace(html.charCodeAt(s - 1))) s--; // the blanks before it go too (not past the last cut)
          cut(s, a.end(k));
        } else if (a.valueStart(k) !== -1 && URL_ATTRIBUTES.some((name) => a.is(k, name))) {
          let v = a.valueStart(k);
          while (v < a.valueEnd(k) && isSpace(html.charCodeAt(v))) v++;
          if (v + 11 <= a.valueEnd(k) && matchesLower(html, v, 'javascript:')) cut(a.valueStart(k), v + 11, '#');
        }
      }
    },
    text: dropLoneStartTag,
    other: dropLoneStartTag,
    unfinished: dropLoneStartTag,
  });
  dropLoneStartTag();
  out.push(html.slice(from));
  return out.join('');
}

/** Links open in a new tab: a `<base target="_blank">` at the head's start (withHeadStart). */
export function withBaseTarget(html: string): string {
  return withHeadStart(html, '<base target="_blank">');
}

/**
 * `tag` right after the `<head>` start tag, else after `<html>`, else after a leading doctype (a tag before the
 * doctype would switch the page to quirks mode), else first: where the head's first element goes.
 */
export function withHeadStart(html: string, tag: string): string {
  let head = -1;
  let root = -1;
  let doctype = -1;
  let first = true;
  scanHtml(html, {
    tag: (t) => {
      first = false;
      if (t.closing) return;
      if (t.name === 'head' && head === -1) head = t.end;
      else if (t.name === 'html' && root === -1) root = t.end;
    },
    other: (_start, end, isDoctype) => {
      if (first && isDoctype) doctype = end;
      first = false;
    },
    text: (start, end) => {
      for (let k = start; k < end && first; k++) if (!isSpace(html.charCodeAt(k))) first = false;
    },
  });
  const at = head !== -1 ? head : root !== -1 ? root : doctype;
  return at === -1 ? tag + html : html.slice(0, at) + tag + html.slice(at);
}
