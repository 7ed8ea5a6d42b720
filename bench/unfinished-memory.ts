/**
 * Issue 25's memory goal, as a scenario of `npm run bench` (`--only spool-memory`): `connections` clients each start a
 * message of `bytes` and never end it; once every byte sent has been read by the server (the clients' buffers empty
 * and the server's receive queues at 0, /proc/net/tcp), the server's resident set (VmRSS) is read again. The bytes go
 * to its temporary files past 256 KiB (src/smtp/server/message-spool.ts); past its disk budget (--spool-disk, 1 GiB)
 * they are dropped, and each such message would be answered 452 at its end. An `npm test` version with 20 × 5 MB is
 * test/e2e/message-spool.test.ts.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type UnfinishedReport = Readonly<{ connections: number; bytes: number; rssBeforeMiB: number; grownMiB: number; seconds: number }>;

/** A process's resident set (VmRSS, /proc/PID/status), in MiB. */
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** The receive queues (bytes not yet read by the process) of the established TCP connections to local `port`. */
function receiveQueues(port: number): number[] {
  const out: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 5 || f[3] !== '01' || parseInt(f[1]?.split(':')[1] ?? '', 16) !== port) continue;
      out.push(parseInt(f[4]?.split(':')[1] ?? '', 16));
    }
  }
  return out;
}

/** Runs the scenario against the server `pid` listening on 127.0.0.1:`port`; at most `deadlineMs` for the bytes to go. */
export async function unfinishedMemory(pid: number, port: number, connections: number, bytes: number, deadlineMs = 300_000): Promise<UnfinishedReport> {
  const before = rssMiB(pid);
  // One Buffer for every client (a socket keeps a reference, not a copy): lines of 998 characters, none starts with a dot.
  const body = Buffer.from(`${'x'.repeat(998)}\r\n`.repeat(Math.ceil(bytes / 1000)), 'latin1');
  const sockets: Socket[] = [];
  const started = performance.now();
  try {
    for (let i = 0; i < connections; i++) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      sockets.push(socket);
      socket.write(`EHLO c${i}.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n`);
      socket.write(body); // and never the end of data
    }
    // Bounded in time and count: polls every 100 ms until every byte sent was read by the server.
    for (let i = 0; ; i++) {
      const queues = receiveQueues(port);
      if (sockets.every((s) => s.writableLength === 0) && queues.length === connections && queues.every((q) => q === 0)) break;
      if (performance.now() - started > deadlineMs || i > deadlineMs / 100) {
        throw new Error(`the server had not read every byte after ${deadlineMs / 1000} s (${queues.length} queues, ${queues.reduce((a, b) => a + b, 0)} bytes waiting)`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { connections, bytes, rssBeforeMiB: before, grownMiB: rssMiB(pid) - before, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const s of sockets) s.destroy();
  }
}
