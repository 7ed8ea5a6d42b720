/**
 * A horizontal bar chart as a standalone SVG (issue 32 item 9): `npm run bench` draws one per workload, msg/s of each
 * server in the same run, and BENCHMARKS.md shows them as images. Pure: numbers in, text out; no chart service, no
 * fonts to embed (the viewer's sans-serif), no script.
 */
export type Bar = Readonly<{ label: string; value: number; ours: boolean }>;

const WIDTH = 760;
const LABEL_W = 300;
const VALUE_W = 80;
const ROW_H = 22;
const TOP = 34;

const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Bars in the order given; a value that is not a finite number ≥ 0 (a cell that did not run) is drawn as "—". */
export function barChartSvg(title: string, unit: string, bars: readonly Bar[]): string {
  const finite = bars.map((b) => (Number.isFinite(b.value) && b.value >= 0 ? b.value : null));
  const most = Math.max(1, ...finite.map((v) => v ?? 0));
  const plot = WIDTH - LABEL_W - VALUE_W;
  const height = TOP + bars.length * ROW_H + 8;
  const rows = bars.map((b, i) => {
    const y = TOP + i * ROW_H;
    const v = finite[i] ?? null;
    const w = v === null ? 0 : Math.max(v > 0 ? 1 : 0, Math.round((v / most) * plot));
    return [
      `<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<rect x="${LABEL_W}" y="${y + 3}" width="${w}" height="${ROW_H - 6}" fill="${b.ours ? '#2563eb' : '#9ca3af'}"/>`,
      `<text x="${LABEL_W + w + 6}" y="${y + 15}">${v === null ? '—' : escapeXml(num(v))}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">${escapeXml(title)} (${escapeXml(unit)})</text>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}
