// node bench/connection-cpu.mjs ROOT ours|base [MESSAGES]: the JS CPU per message of one SMTP connection (the shell,
// the core, the store deadline, the discard sink) driven through a fake socket, no network; ROOT is a built checkout,
// 'base' for one laid out as 49110ac (src/server, src/protocol), 'ours' for src/smtp. Run both, alternating (issue 24).
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [root, kind, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 20000);
const d = (p) => import(`${root}/dist/src/${p}`);
let Connection, dialect, limits, display, sink, extra = {};
if (kind === 'base') {
  ({ Connection } = await d('server/connection.js'));
  ({ smtpDialect: dialect } = await d('protocol/dialects/smtp.js'));
  limits = (await d('protocol/limits.js')).resolveLimits({});
  display = (await d('server/display.js')).quietDisplay;
  sink = (await d('store/discard.js')).createDiscardSink();
} else {
  ({ Connection } = await d('smtp/server/connection.js'));
  ({ smtpDialect: dialect } = await d('smtp/core/dialects/smtp.js'));
  limits = (await d('smtp/core/limits.js')).resolveLimits({});
  display = (await d('smtp/server/display.js')).quietDisplay;
  const { withDeadline } = await d('store/deadline.js');
  sink = withDeadline((await d('store/discard.js')).createDiscardSink(), { storeTimeoutMs: 30000 });
  const { MessageSpool } = await d('smtp/server/message-spool.js');
  extra = { spool: new MessageSpool({ dir: join(tmpdir(), 'mailwire-connection-cpu'), memoryBytes: 64 << 20, diskBytes: 1 << 30 }) };
}
const { createMetrics } = await d('metrics.js');
const { observerFor } = await d('service.js');
const metrics = createMetrics();
const observer = observerFor(metrics, null);
let onWrite = null; let writes = 0;
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1'; remotePort = 40000; localAddress = '127.0.0.1'; localPort = 2525; destroyed = false;
  setNoDelay() {} pause() {} resume() {}
  write(s, cb) { writes++; const f = onWrite; onWrite = null; f?.(s); if (typeof cb === 'function') cb(); return true; }
  end(s, cb) { if (typeof s === 'function') s(); else if (typeof cb === 'function') cb(); }
  destroy() { this.destroyed = true; }
}
const sock = new FakeSocket();
new Connection(sock, { dialect, limits, sink, display, recordSessions: false, observer, ...extra });
const lines = ['From: bench@mailwire.test', 'To: sink@mailwire.test', 'Subject: bench message', 'Message-ID: <x@y>', 'Date: Mon, 7 Dec 2026 21:00:00 +0000', ''];
let body = lines.join('\r\n') + '\r\n';
while (body.length < 1000) body += 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
body += '.\r\n';
const env = Buffer.from('MAIL FROM:<bench@mailwire.test>\r\nRCPT TO:<sink@mailwire.test>\r\nDATA\r\n', 'latin1');
const msg = Buffer.from(body, 'latin1');
const ehlo = Buffer.from('EHLO localhost\r\n');
const reply = () => new Promise((r) => (onWrite = r));
async function one() {
  let p = reply(); sock.emit('data', env); await p;
  p = reply(); sock.emit('data', msg); const s = await p;
  if (!s.startsWith('250')) throw new Error(`got ${s}`);
}
{ const p = reply(); sock.emit('data', ehlo); await p; }
for (let i = 0; i < 3000; i++) await one(); // warm
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < N; i++) await one();
const c = process.cpuUsage(c0); const t = performance.now() - t0;
console.log(JSON.stringify({ kind, usPerMsg: (c.user + c.system) / N, wallUsPerMsg: (t * 1000) / N }));
process.exit(0);
