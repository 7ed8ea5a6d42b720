// A tiny web app to test: a sign-up form that mails a confirmation link (and a code) through SMTP, and the page the
// link opens. Just enough to show the fixture in signup.spec.ts; nothing here is mailwire's.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';

export type App = Readonly<{ url: string; close: () => Promise<void> }>;

export async function startApp(smtp: Readonly<{ host: string; port: number }>): Promise<App> {
  const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false });
  const pending = new Map<string, string>(); // token → address
  const page = (body: string): string => `<!doctype html><html><head><meta charset="utf-8"><title>Example app</title></head><body>${body}</body></html>`;
  const escape = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  let url = '';
  const server: Server = createServer((req, res) => {
    const at = new URL(req.url ?? '/', url);
    const send = (status: number, html: string): void => { res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(page(html)); };
    if (req.method === 'GET' && at.pathname === '/') {
      send(200, '<form method="post" action="/signup"><label>Email <input name="email" type="email" required></label><button>Sign up</button></form>');
    } else if (req.method === 'POST' && at.pathname === '/signup') {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => { if (body.length < 10_000) body += d; }).on('end', () => {
        const email = new URLSearchParams(body).get('email') ?? '';
        const token = Math.random().toString(36).slice(2, 12);
        const code = String(100000 + Math.floor(Math.random() * 900000));
        pending.set(token, email);
        const link = `${url}/confirm?token=${token}`;
        transport.sendMail({
          from: 'Example app <app@example.test>', to: email, subject: 'Confirm your address',
          text: `Your code is ${code}. Or open ${link}`,
          html: `<p>Your code is <b>${code}</b>.</p><p><a href="${link}">Confirm your address</a></p>`,
        }).then(() => send(200, '<p>Check your mail.</p>'), (error: Error) => send(500, `<p>Could not send: ${escape(error.message)}</p>`));
      });
    } else if (req.method === 'GET' && at.pathname === '/confirm') {
      const email = pending.get(at.searchParams.get('token') ?? '');
      if (email === undefined) send(404, '<p>Unknown link.</p>');
      else send(200, `<p>Confirmed ${escape(email)}</p>`);
    } else send(404, '<p>Not found.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      transport.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
