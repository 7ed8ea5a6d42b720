/** GET /api/v1/server (issue 32): the version and where each protocol listens, read from a running service. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startService } from '../../src/service.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { VERSION } from '../../src/version.js';
import { selfSignedCert } from '../helpers/cert.js';

describe('GET /api/v1/server', () => {
  it('says the smtp dialect with STARTTLS and AUTH, the HTTP port, and null for protocols not served', async () => {
    const tls = await selfSignedCert();
    const service = await startService({
      smtp: {
        host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay, tls,
        auth: createAuthenticator([{ user: 'a', password: 'b' }], false),
      },
      store: { kind: 'memory' },
      http: { host: '127.0.0.1', port: 0 },
    });
    try {
      assert.ok(service.http);
      const r = await fetch(`http://127.0.0.1:${service.http.port}/api/v1/server`);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), {
        version: VERSION,
        smtp: { host: '127.0.0.1', port: service.smtp.port, dialect: 'smtp', starttls: true, auth: true },
        http: { host: '127.0.0.1', port: service.http.port, tls: false },
        imap: null,
        pop3: null,
      });
    } finally {
      await service.close(1000);
    }
  });

  it('says the simplified dialect without STARTTLS or AUTH', async () => {
    const service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' },
      http: { host: '127.0.0.1', port: 0 },
    });
    try {
      assert.ok(service.http);
      const body = await (await fetch(`http://127.0.0.1:${service.http.port}/api/v1/server`)).json() as { smtp: unknown };
      assert.deepEqual(body.smtp, { host: '127.0.0.1', port: service.smtp.port, dialect: 'simplified', starttls: false, auth: false });
    } finally {
      await service.close(1000);
    }
  });
});
