/**
 * How a session ends, as GET /api/v1/sessions lists it (issue 32 item 5): a client refused with "421 HTTP is not
 * spoken here" and one gone during DATA (by FIN or by reset) failed; a QUIT did not. The list's filters, over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startService, type RunningService } from '../../src/service.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { SocketLines } from '../helpers/socket-driver.js';

type Summary = { id: string; end: string; helo: string | null; mailFrom: string | null; rcptTo: string[] };
type Detail = Summary & { transcript: { dir: string; text: string }[] };

describe('session ends and the session filters', () => {
  let service: RunningService;
  let api: string;
  before(async () => {
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' },
      http: { host: '127.0.0.1', port: 0 },
    });
    assert.ok(service.http);
    api = `http://127.0.0.1:${service.http.port}`;
  });
  after(async () => {
    await service.close(1000);
  });

  const sessions = async (query = ''): Promise<Summary[]> => ((await (await fetch(`${api}/api/v1/sessions${query}`)).json()) as { sessions: Summary[] }).sessions;
  /** Polls the list until it holds `n` sessions, then returns them, newest first. */
  const recorded = async (n: number): Promise<Summary[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const list = await sessions();
      if (list.length >= n) return list;
      if (Date.now() > deadline) throw new Error(`waited for ${n} sessions, have ${JSON.stringify(list)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const detail = async (id: string): Promise<Detail> => (await (await fetch(`${api}/api/v1/sessions/${id}`)).json()) as Detail;

  it('marks a session refused as HTTP, and one gone during DATA (FIN or reset), failed; a QUIT not', async () => {
    const http = await SocketLines.open(service.smtp.port);
    await http.next();
    http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match((await http.next()) ?? '', /^421 4\.7\.0 .* HTTP is not spoken here$/);
    assert.equal(await http.closedByServer(), true);
    const [refused] = await recorded(1);
    assert.equal(refused?.end, 'error');

    const quit = await SocketLines.open(service.smtp.port);
    await quit.next();
    quit.write('HELO a.test\r\n');
    await quit.next();
    quit.write('QUIT\r\n');
    assert.match((await quit.next()) ?? '', /^221 /);
    const [quitted] = await recorded(2);
    assert.deepEqual([quitted?.end, quitted?.helo, quitted?.mailFrom, quitted?.rcptTo], ['quit', 'a.test', null, []]);
    assert.deepEqual([refused?.helo, refused?.mailFrom, refused?.rcptTo], [null, null, []]);

    for (const [i, leave] of [['fin', (c: SocketLines) => c.socket.end()], ['reset', (c: SocketLines) => c.socket.resetAndDestroy()]] as const) {
      const c = await SocketLines.open(service.smtp.port);
      await c.next();
      c.write(`HELO a.test\r\nMAIL FROM:<ann@a.test>\r\nRCPT TO:<Bob@B.test>\r\nDATA\r\n`);
      for (let k = 0; k < 4; k++) await c.next();
      c.write('Subject: half\r\n\r\nthe first half of a message\r\n');
      leave(c);
      const newest = (await recorded(i === 'fin' ? 3 : 4))[0];
      assert.ok(newest);
      assert.equal(newest.end, 'error', i);
      assert.deepEqual([newest.helo, newest.mailFrom, newest.rcptTo], ['a.test', 'ann@a.test', ['Bob@B.test']], i);
      const t = await detail(newest.id);
      assert.equal(t.transcript.at(-1)?.text, 'the client went away during the message: nothing stored', i);
    }
  });

  it('lists failed sessions only, one client\'s, and those that named an address', async () => {
    const all = await recorded(4);
    const failed = await sessions('?failed=true');
    assert.deepEqual(failed.map((s) => s.id), all.filter((s) => s.end !== 'quit').map((s) => s.id));
    assert.equal(failed.length, 3);
    assert.deepEqual((await sessions('?address=bob%40b.test')).map((s) => s.id), all.slice(0, 2).map((s) => s.id));
    assert.equal((await sessions('?client=127.0.0.1')).length, 4);
    assert.deepEqual(await sessions('?client=10.1.1.1'), []);
    const bad = await fetch(`${api}/api/v1/sessions?failed=maybe`);
    assert.deepEqual([bad.status, await bad.json()], [400, { error: { code: 'bad_request', message: 'failed must be true or false' } }]);
  });
});
