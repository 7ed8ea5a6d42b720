/**
 * The spam check: a message's raw bytes scored by SpamAssassin's spamd (the SPAMC/1.5 protocol, its REPORT command,
 * over TCP or a unix socket) or by rspamd (its /checkv2 HTTP interface). The checker is the operator's, named by a
 * flag (--spamd, --rspamd), so these requests do not go through the outbound guard.
 */
import { connect, type Socket } from 'node:net';

export type SpamRule = Readonly<{ name: string; score: number; description: string }>;
export type SpamReport = Readonly<{
  checker: 'spamassassin' | 'rspamd';
  score: number;
  /** The score from which the checker calls it spam (rspamd: its `add header` action's score). */
  threshold: number;
  spam: boolean;
  /** rspamd's action (`no action`, `greylist`, `add header`, `rewrite subject`, `soft reject`, `reject`). */
  action: string | null;
  rules: readonly SpamRule[];
}>;

export type SpamChecker = Readonly<{ check(raw: Buffer): Promise<SpamReport> }>;

/** What spamd says in its headers and REPORT body, parsed. Exported for tests. */
export function parseSpamdReply(reply: string): SpamReport {
  const headEnd = reply.indexOf('\r\n\r\n');
  const head = headEnd === -1 ? reply : reply.slice(0, headEnd);
  const body = headEnd === -1 ? '' : reply.slice(headEnd + 4);
  const status = /^SPAMD\/[\d.]+ (\d+) (\S+)/.exec(head);
  if (status === null) throw new Error(`spamd answered something else than SPAMD/1.x: ${JSON.stringify(head.slice(0, 80))}`);
  if (status[1] !== '0') throw new Error(`spamd refused the check: ${status[1]} ${status[2]}`);
  const verdict = /^Spam: *(True|False|Yes|No) *; *(-?[\d.]+) *\/ *(-?[\d.]+)/im.exec(head);
  if (verdict === null) throw new Error('spamd gave no Spam: header');
  const rules: SpamRule[] = [];
  // The table after " pts rule name  description" and its dashes: "1000 GTUBE   BODY: …", descriptions may wrap.
  const table = body.split(/\r?\n/);
  let inTable = false;
  for (const line of table) {
    if (/^-{3,} -{3,}/.test(line)) {
      inTable = true;
      continue;
    }
    if (!inTable) continue;
    const m = /^ *(-?\d+(?:\.\d+)?) +(\S+) +(.*)$/.exec(line);
    if (m !== null) rules.push({ score: Number(m[1]), name: m[2] as string, description: (m[3] as string).trim() });
    else if (/^\s+\S/.test(line) && rules.length > 0) {
      const last = rules[rules.length - 1] as SpamRule;
      rules[rules.length - 1] = { ...last, description: `${last.description} ${line.trim()}` };
    }
  }
  return {
    checker: 'spamassassin', score: Number(verdict[2]), threshold: Number(verdict[3]),
    spam: /^(true|yes)$/i.test(verdict[1] as string), action: null, rules,
  };
}

/** `HOST:PORT`, `[v6]:PORT`, or a unix socket path (starts with `/`). */
export function spamdChecker(where: string, timeoutMs = 30_000): SpamChecker {
  const target = where.startsWith('/') ? { path: where } : parseHostPort(where);
  return {
    check: (raw) => new Promise<SpamReport>((resolve, reject) => {
      const socket: Socket = connect(target as { path: string } & { host: string; port: number });
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`spamd at ${where} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.on('connect', () => {
        socket.write(`REPORT SPAMC/1.5\r\nContent-length: ${raw.length}\r\n\r\n`);
        socket.end(raw);
      });
      socket.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= 1024 * 1024) chunks.push(d);
      });
      socket.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`spamd at ${where}: ${e.message}`));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        try {
          resolve(parseSpamdReply(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e);
        }
      });
    }),
  };
}

function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  if (m === null) throw new Error(`--spamd ${text}: expected HOST:PORT or a unix socket path`);
  return { host: m[1] as string, port: Number(m[2]) };
}

type RspamdAnswer = {
  score?: number;
  required_score?: number;
  action?: string;
  thresholds?: Record<string, number>;
  symbols?: Record<string, { name?: string; score?: number; metric_score?: number; description?: string }>;
};

/** rspamd's /checkv2 answer as a report. Exported for tests. */
export function parseRspamdAnswer(answer: RspamdAnswer): SpamReport {
  const action = answer.action ?? 'no action';
  const rules = Object.entries(answer.symbols ?? {}).map(([name, s]) => ({
    name: s.name ?? name, score: s.score ?? s.metric_score ?? 0, description: s.description ?? '',
  })).sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  // required_score is the reject score; spam starts at `add header` (what a mailbox provider would file as spam).
  const threshold = answer.thresholds?.['add header'] ?? answer.thresholds?.['rewrite subject'] ?? answer.required_score ?? Number.NaN;
  return {
    checker: 'rspamd', score: answer.score ?? 0, threshold, action,
    spam: action !== 'no action' && action !== 'greylist', rules,
  };
}

export function rspamdChecker(url: string, timeoutMs = 30_000): SpamChecker {
  const endpoint = new URL('checkv2', url.endsWith('/') ? url : `${url}/`);
  return {
    async check(raw) {
      let res: Response;
      try {
        res = await fetch(endpoint, { method: 'POST', body: raw, signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        throw new Error(`rspamd at ${endpoint.href}: ${(e as Error).message}`);
      }
      if (!res.ok) throw new Error(`rspamd at ${endpoint.href} answered ${res.status}`);
      return parseRspamdAnswer((await res.json()) as RspamdAnswer);
    },
  };
}
