// node bench/server-cpu.mjs ROUNDS label=BIN [label=BIN…]: each build's server (--store none, smtp dialect) under
// `mailwire bench --connections 20 --size 1024 --duration 3s` (this checkout's generator for all), its CPU per message
// from /proc/PID/stat utime+stime around the run; peers alternate order round by round (issue 24).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const GEN = new URL('../bin/mailwire.js', import.meta.url).pathname;
const rounds = Number(process.argv[2]);
const peers = process.argv.slice(3).map((a) => a.split('='));
const extra = (process.env.SERVER_ARGS ?? '').split(' ').filter(Boolean);
const conns = process.env.CONNS ?? '20';
const size = process.env.SIZE ?? '1024';
const dur = process.env.DUR ?? '3s';
const clk = 100;
function cpu(pid) { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / clk; }
function start(bin) {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean), bin, 'server', '--quiet', '--no-http', '--port', '0', '--dialect', 'smtp', '--store', 'none', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const on = (d) => { out += d; const m = /127\.0\.0\.1:(\d+)/.exec(out); if (m) res({ c, port: Number(m[1]) }); };
    c.stdout.on('data', on); c.stderr.on('data', on);
    c.on('exit', () => rej(new Error(out)));
  });
}
const results = Object.fromEntries(peers.map(([l]) => [l, []]));
for (let r = 0; r < rounds; r++) {
  for (const [label, bin] of (r % 2 ? [...peers].reverse() : peers)) {
    const { c, port } = await start(bin);
    await new Promise((r) => setTimeout(r, 300));
    // warm
    execFileSync(process.execPath, [GEN, 'bench', '--server', `127.0.0.1:${port}`, '--connections', conns, '--size', size, '--duration', '1s', '--json']);
    const before = cpu(c.pid);
    const out = JSON.parse(execFileSync(process.execPath, [GEN, 'bench', '--server', `127.0.0.1:${port}`, '--connections', conns, '--size', size, '--duration', dur, '--json']).toString());
    const after = cpu(c.pid);
    const n = out.accepted;
    results[label].push({ us: ((after - before) / n) * 1e6, rate: out.messagesPerSecond ?? out.rate });
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
}
for (const [l, rs] of Object.entries(results)) console.log(l, 'µs/msg', rs.map((x) => x.us.toFixed(0)).join(' '), ' msg/s', rs.map((x) => Math.round(x.rate)).join(' '));
console.log('load', readFileSync('/proc/loadavg', 'utf8').trim());
