/**
 * GET /api/v1/server: what this mailwire is and where it listens, so the UI (and a script) can say "SMTP on
 * 127.0.0.1:1025, smtp dialect" instead of "the SMTP port". Protocols that are not served are null. The answer is read when asked: the SMTP port is only known once the server listens.
 */
import type { Hono } from 'hono';
import { VERSION } from '../../version.js';

export type SmtpInfo = Readonly<{
  host: string;
  port: number;
  dialect: 'simplified' | 'smtp';
  /** STARTTLS is offered (a certificate was given): smtp dialect only. */
  starttls: boolean;
  /** AUTH is offered (logins were given): smtp dialect only. */
  auth: boolean;
}>;

export type HttpInfo = Readonly<{ host: string; port: number; tls: boolean }>;
/** Where a mail-client protocol (IMAP, POP3) listens. */
export type ListenerInfo = Readonly<{ host: string; port: number }>;

export type ServerInfo = Readonly<{
  version: string;
  smtp: SmtpInfo | null;
  http: HttpInfo | null;
  imap: ListenerInfo | null;
  pop3: ListenerInfo | null;
}>;

/** What the service knows about itself, asked at each request. */
export type ServerInfoSource = () => Readonly<{ smtp: SmtpInfo | null; http: HttpInfo | null; imap: ListenerInfo | null; pop3: ListenerInfo | null }>;

export function serverInfo(source: ServerInfoSource): ServerInfo {
  return { version: VERSION, ...source() };
}

export function mountServerInfoRoutes(app: Hono, source: ServerInfoSource): void {
  app.get('/api/v1/server', (c) => c.json(serverInfo(source)));
}
