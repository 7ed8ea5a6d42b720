/**
 * A webhook receiver that checks every signature with an implementation of its own: a few lines of Python's standard
 * library (hmac, hashlib, base64), as a receiver written from the Standard Webhooks specification would. It prints one
 * JSON line per request (under a lock: the server answers on several threads); GET /status/NNN sets the status it answers (429 comes with Retry-After: 60), GET /delay/MS how long it waits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor } from '../helpers/wait.js';

const PYTHON = String.raw`
import base64, hashlib, hmac, http.server, json, sys, threading, time
lock = threading.Lock()
key = base64.b64decode(sys.argv[1].split('_', 1)[1])
state = {'status': 200, 'delay': 0}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        what, value = self.path.rsplit('/', 2)[1:]
        state[what] = int(value)
        self.send_response(204); self.end_headers()
    def do_POST(self):
        body = self.rfile.read(int(self.headers['content-length']))
        mid, ts = self.headers['webhook-id'], self.headers['webhook-timestamp']
        expected = base64.b64encode(hmac.new(key, ('%s.%s.' % (mid, ts)).encode() + body, hashlib.sha256).digest()).decode()
        given = [s.split(',', 1)[1] for s in self.headers.get('webhook-signature', '').split(' ') if s.startswith('v1,')]
        valid = any(hmac.compare_digest(expected, s) for s in given)
        status = state['status']
        if state['delay']: time.sleep(state['delay'] / 1000)
        line = json.dumps({'id': mid, 'valid': valid, 'event': self.headers.get('webhook-event'), 'contentType': self.headers.get('content-type'),
                          'body': base64.b64encode(body).decode(), 'status': status})
        with lock:
            sys.stdout.write(line + '\n'); sys.stdout.flush()
        self.send_response(status)
        if status == 429: self.send_header('Retry-After', '60')
        self.end_headers(); self.wfile.write(b'answer %d' % status)
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(json.dumps({'port': srv.server_address[1]}), flush=True)
srv.serve_forever()
`;

export type Received = Readonly<{ id: string; valid: boolean; event: string; contentType: string; body: Buffer; status: number }>;

export class Receiver {
  readonly received: Received[] = [];
  port = 0;
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(secret: string): Promise<Receiver> {
    const child = spawn('python3', ['-c', PYTHON, secret], { stdio: ['ignore', 'pipe', 'inherit'] });
    const r = new Receiver(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const v = JSON.parse(line) as { port?: number; body?: string } & Omit<Received, 'body'>;
      if (v.port !== undefined) r.port = v.port;
      else r.received.push({ ...v, body: Buffer.from(v.body ?? '', 'base64') });
    });
    await waitFor('the Python receiver to listen', () => r.port > 0);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async answer(status: number): Promise<void> {
    await this.#set('status', status);
  }

  /** Each answer waits this long first. */
  async delay(ms: number): Promise<void> {
    await this.#set('delay', ms);
  }

  async #set(what: string, value: number): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.port}/${what}/${value}`);
    if (res.status !== 204) throw new Error(`receiver: ${res.status}`);
  }

  stop(): void {
    this.#child.kill('SIGTERM');
  }
}
