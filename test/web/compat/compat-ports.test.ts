/**
 * --mailpit-api-port and --mailhog-api-port: each API alone at the root of a port of its own (for clients that cannot
 * take a path), behind the same guard, with none of mailwire's own routes.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import mailhog from 'mailhog';
import { MailpitClient } from 'mailpit-api';
import nodemailer from 'nodemailer';
import { startService } from '../../../src/service.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { quietDisplay } from '../../../src/smtp/server/display.js';
import { startProgram } from '../../helpers/program.js';

describe('each compatible API on a port of its own', () => {
  it('serves Mailpit\'s and MailHog\'s API at the root, nothing of mailwire\'s, through the same Host guard', async () => {
    const service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0, mailpitApiPort: 0, mailhogApiPort: 0 },
    });
    try {
      const mailpitPort = service.compat?.mailpit?.port ?? 0;
      const mailhogPort = service.compat?.mailhog?.port ?? 0;
      assert.ok(mailpitPort > 0 && mailhogPort > 0 && mailpitPort !== mailhogPort);
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
      await transport.sendMail({ from: 'a@a.test', to: 'b@b.test', subject: 'On its own port', text: 'hello' });
      transport.close();
      const mailpit = new MailpitClient(`http://127.0.0.1:${mailpitPort}`);
      const found = await mailpit.waitForMessage({ query: 'subject:"own port"' }, { timeout: 10_000, interval: 20 });
      assert.equal(found.Subject, 'On its own port');
      const hog = mailhog({ host: '127.0.0.1', port: mailhogPort });
      assert.deepEqual((await hog.messages())?.items.map((m) => m.subject), ['On its own port']);

      for (const port of [mailpitPort, mailhogPort]) {
        assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/faults`)).status, 404, 'no mailwire routes');
        assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404, 'no UI');
        const rebound = await new Promise<number>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/api/v1/messages', headers: { Host: 'evil.test' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject);
        });
        assert.equal(rebound, 403, 'the Host check (DNS rebinding) holds here too');
      }
      assert.equal((await fetch(`http://127.0.0.1:${mailpitPort}/api/v2/messages`)).status, 404, 'Mailpit\'s port serves Mailpit only');
    } finally {
      await service.close();
    }
  });

  it('mailwire server --mailpit-api-port and --mailhog-api-port say where each listens', async () => {
    const server = startProgram(['server', '--dialect', 'smtp', '--port', '0', '--http-port', '0', '--store', 'memory', '--mailpit-api-port', '0', '--mailhog-api-port', '0']);
    try {
      const mailpitUrl = (await server.waitFor(/Mailpit API alone on (http:\/\/127\.0\.0\.1:\d+)\//))[1] ?? '';
      const mailhogUrl = (await server.waitFor(/MailHog API alone on (http:\/\/127\.0\.0\.1:\d+)\//))[1] ?? '';
      const info = (await (await fetch(`${mailpitUrl}/api/v1/info`)).json()) as { Messages: number };
      assert.equal(info.Messages, 0);
      const page = (await (await fetch(`${mailhogUrl}/api/v2/messages`)).json()) as { total: number; items: unknown[] };
      assert.deepEqual(page, { total: 0, count: 0, start: 0, items: [] });
    } finally {
      await server.stop();
    }
  });
});
