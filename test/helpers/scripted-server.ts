/**
 * A scripted SMTP server for client tests: a node:net server that plays a script of expected client lines and canned
 * replies on its first connection, and records every byte the client sent.
 *
 *   S: text    a reply line; consecutive S: lines go out in one write
 *   S/ text    a reply line written one byte per write (with each write flushed before the next)
 *   C: text    the client's next line must be exactly "text" followed by CRLF
 *   D:         the client sends message lines up to "." alone (dot-stuffed): recorded, unstuffed, in `messages`
 *   B: n       the client sends exactly n raw octets (a BDAT chunk): recorded in `chunks`
 *   TLS        the server side of a TLS handshake on the connection (after a "S: 220" to STARTTLS)
 *   CLOSE      the server closes the connection
 *   HANG       the server stops answering and keeps the connection open until the client goes
 * A mismatch ends the script: `done` resolves with `error` set and the connection is closed.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';

export type ScriptStep =
  | { kind: 'expect'; line: string }
  | { kind: 'expect-data' }
  | { kind: 'expect-bytes'; count: number }
  | { kind: 'reply'; bytes: string; split: boolean }
  | { kind: 'starttls' }
  | { kind: 'close' }
  | { kind: 'hang' };

export function script(strings: TemplateStringsArray, ...values: (string | number)[]): ScriptStep[] {
  const text = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const steps: ScriptStep[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const rest = line.length > 2 && line[2] === ' ' ? line.slice(3) : line.slice(2);
    const prev = steps[steps.length - 1];
    if (line.startsWith('S:')) {
      if (prev?.kind === 'reply' && !prev.split) prev.bytes += `${rest}\r\n`;
      else steps.push({ kind: 'reply', bytes: `${rest}\r\n`, split: false });
    } else if (line.startsWith('S/')) steps.push({ kind: 'reply', bytes: `${rest}\r\n`, split: true });
    else if (line.startsWith('C:')) steps.push({ kind: 'expect', line: rest });
    else if (line.startsWith('D:')) steps.push({ kind: 'expect-data' });
    else if (line.startsWith('B:')) steps.push({ kind: 'expect-bytes', count: Number(rest) });
    else if (line === 'TLS') steps.push({ kind: 'starttls' });
    else if (line === 'CLOSE') steps.push({ kind: 'close' });
    else if (line === 'HANG') steps.push({ kind: 'hang' });
    else throw new Error(`script: cannot read ${JSON.stringify(raw)}`);
  }
  return steps;
}

export type ScriptResult = {
  /** Why the script stopped early, or undefined when it ran to its end. */
  error?: string;
  /** Every line the client sent (CRLF removed), in order, message lines included. */
  lines: string[];
  /** Messages received after DATA, unstuffed, each line with its CRLF, without the final ".". */
  messages: string[];
  /** BDAT payloads, latin1. */
  chunks: string[];
  /** For each expected line: whether more client bytes were already waiting when the server read it (pipelining). */
  earlyTalk: string[];
  /** SNI the client sent in its TLS handshake. */
  servername: string | null;
};

export type ScriptedServer = {
  host: string;
  port: number;
  done: Promise<ScriptResult>;
  close(): Promise<void>;
};

const WAIT_MS = 5000; // bound on each wait for the client, so a broken client fails the test instead of hanging it

export async function startScriptedServer(steps: readonly ScriptStep[], opts: { tls?: TlsOptions; starttls?: TlsOptions; host?: string } = {}): Promise<ScriptedServer> {
  const host = opts.host ?? '127.0.0.1';
  let resolveDone: (r: ScriptResult) => void = () => {};
  const done = new Promise<ScriptResult>((resolve) => (resolveDone = resolve));
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (sockets.size > 1) {
      socket.destroy(); // one connection per script
      return;
    }
    void play(socket, steps, opts.starttls).then(resolveDone);
  };
  let server: Server;
  if (opts.tls) {
    const tlsServer = createTlsServer(opts.tls, onSocket);
    // A handshake the client refuses never becomes a connection: report it as the script's end.
    tlsServer.on('tlsClientError', (e) => resolveDone(emptyResult(`tls: ${e.message}`)));
    server = tlsServer;
  } else {
    server = createNetServer(onSocket);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    done,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const emptyResult = (error?: string): ScriptResult => ({ ...(error === undefined ? {} : { error }), lines: [], messages: [], chunks: [], earlyTalk: [], servername: null });

/** Bytes from the client, pulled by the script; can move from the plain socket to a TLS one. */
class Pull {
  buf = Buffer.alloc(0);
  ended = false;
  #wake: (() => void) | null = null;
  #off: () => void = () => {};

  attach(socket: Socket): void {
    const onData = (chunk: Buffer): void => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.#wake?.();
    };
    const onEnd = (): void => {
      this.ended = true;
      this.#wake?.();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    this.#off = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
  }

  detach(): void {
    this.#off();
  }

  async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!ready()) {
      if (this.ended) throw new Error(`the client closed the connection while the server waited for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} from the client within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  async line(what: string): Promise<string> {
    await this.until(() => this.buf.indexOf('\r\n') !== -1, what);
    const end = this.buf.indexOf('\r\n');
    const line = this.buf.toString('latin1', 0, end);
    this.buf = this.buf.subarray(end + 2);
    return line;
  }

  async bytes(n: number): Promise<Buffer> {
    await this.until(() => this.buf.length >= n, `${n} octets`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

const write = (socket: Socket, bytes: string | Buffer): Promise<void> =>
  new Promise((resolve, reject) => socket.write(bytes, (e) => (e ? reject(e) : resolve())));

async function play(first: Socket, steps: readonly ScriptStep[], starttls?: TlsOptions): Promise<ScriptResult> {
  const result = emptyResult();
  let socket = first;
  if (socket instanceof TLSSocket) result.servername = (socket as TLSSocket & { servername?: string | false }).servername || null;
  const pull = new Pull();
  pull.attach(socket);
  try {
    for (const step of steps) {
      switch (step.kind) {
        case 'reply':
          if (step.split) for (const byte of Buffer.from(step.bytes, 'latin1')) await write(socket, Buffer.from([byte]));
          else await write(socket, Buffer.from(step.bytes, 'latin1'));
          break;
        case 'expect': {
          const got = await pull.line(JSON.stringify(step.line));
          result.lines.push(got);
          if (pull.buf.length > 0) result.earlyTalk.push(got);
          // Lines travel as UTF-8 (SMTPUTF8 addresses); the script is written as text.
          if (Buffer.from(got, 'latin1').toString('utf8') !== step.line) throw new Error(`expected ${JSON.stringify(step.line)}, got ${JSON.stringify(got)}`);
          break;
        }
        case 'expect-data': {
          let message = '';
          for (let n = 0; n < 100_000; n++) {
            const line = await pull.line('a message line');
            result.lines.push(line);
            if (line === '.') break;
            message += `${line.startsWith('.') ? line.slice(1) : line}\r\n`;
          }
          result.messages.push(message);
          break;
        }
        case 'expect-bytes':
          result.chunks.push((await pull.bytes(step.count)).toString('latin1'));
          break;
        case 'starttls': {
          if (!starttls) throw new Error('script has TLS but the server was given no certificate');
          if (pull.buf.length > 0) throw new Error('the client sent bytes before the TLS handshake');
          pull.detach();
          const secure = new TLSSocket(socket, { isServer: true, ...starttls });
          secure.on('error', () => {});
          await new Promise<void>((resolve, reject) => {
            secure.once('secure', resolve);
            secure.once('error', (e) => reject(new Error(`tls: ${e.message}`)));
            socket.once('close', () => reject(new Error('tls: the client closed the connection during the handshake')));
          });
          result.servername = (secure as TLSSocket & { servername?: string | false }).servername || null;
          socket = secure;
          pull.attach(socket);
          break;
        }
        case 'close':
          socket.end();
          return result;
        case 'hang':
          await pull.until(() => false, 'nothing (hanging)').catch(() => {});
          return result;
      }
    }
    return result;
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    socket.destroy();
    return result;
  }
}
