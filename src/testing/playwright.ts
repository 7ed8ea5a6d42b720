/**
 * `mailwire/playwright`: `import { test, expect } from 'mailwire/playwright'` instead of '@playwright/test'. Each
 * worker has a mailwire (started in it, or the one at MAILWIRE_URL), each test a unique inbox: `mailwire.address('signup')`
 * is `signup+<unique>@mailwire.test`, and `mailwire.waitForMessage()` waits for mail to this test's addresses unless
 * told `to` or `inbox`. `expect` has toHaveLink, toHaveCode and toPassHtmlCheck.
 */
import { randomBytes } from 'node:crypto';
import { expect as baseExpect, test as base } from '@playwright/test';
import { MailwireClient } from '../api-client/client.js';
import type { CaughtMessage, MessageFilter, WaitForMessage, WaitOptions } from '../api-client/message.js';
import { mailwireMatchers } from './matchers.js';
import { startMailwire, type StartMailwireOptions } from './start.js';

/** The domain of the addresses `address()` makes (RFC 2606's .test: never delivered anywhere real). */
export const MAILWIRE_TEST_DOMAIN = 'mailwire.test';

/** The worker's mailwire: where its API is, where to send mail (null when a MAILWIRE_URL server does not say). */
export type MailwireServer = Readonly<{ url: string; smtp: Readonly<{ host: string; port: number }> | null; client: MailwireClient }>;

export type MailwireFixture = Readonly<{
  /** This test's unique part of its addresses. */
  id: string;
  /** `tag+<id>@mailwire.test` (tag: letters, digits, `.`, `_`, `-`; default "test"). */
  address(tag?: string): string;
  /** As MailwireClient's, narrowed to this test's addresses unless `to` or `inbox` is given. */
  waitForMessage: WaitForMessage;
  /** This test's messages (narrowed as waitForMessage), newest first. */
  messages(filter?: MessageFilter): Promise<CaughtMessage[]>;
  url: string;
  smtp: Readonly<{ host: string; port: number }> | null;
  client: MailwireClient;
}>;

type WorkerFixtures = {
  /** startMailwire's options for the worker's server (ignored with MAILWIRE_URL); set with `use: { mailwireOptions }`. */
  mailwireOptions: StartMailwireOptions;
  mailwireServer: MailwireServer;
};

export const test = base.extend<{ mailwire: MailwireFixture }, WorkerFixtures>({
  mailwireOptions: [{}, { scope: 'worker', option: true }],
  mailwireServer: [async ({ mailwireOptions }, use) => {
    const external = process.env['MAILWIRE_URL'];
    if (external !== undefined && external !== '') {
      const auth = process.env['MAILWIRE_AUTH'];
      const client = new MailwireClient(external, auth === undefined || auth === '' ? {} : { auth });
      const info = await client.serverInfo();
      const smtpHost = info.smtp.host === '0.0.0.0' || info.smtp.host === '::' ? new URL(client.url).hostname : info.smtp.host;
      try {
        await use({ url: client.url, smtp: info.smtp.port > 0 ? { host: smtpHost, port: info.smtp.port } : null, client });
      } finally {
        await client.close();
      }
      return;
    }
    const server = await startMailwire(mailwireOptions);
    try {
      await use({ url: server.url, smtp: server.smtp, client: server.client });
    } finally {
      await server.close();
    }
  }, { scope: 'worker' }],

  mailwire: async ({ mailwireServer }, use) => {
    const id = randomBytes(5).toString('hex');
    const mine = `+${id}@${MAILWIRE_TEST_DOMAIN}`;
    const scoped = <T extends MessageFilter>(filter: T): T => (filter.to === undefined && filter.inbox === undefined ? { ...filter, to: mine } : filter);
    const { client } = mailwireServer;
    await use({
      id,
      address: (tag = 'test') => {
        if (!/^[A-Za-z0-9._-]{1,40}$/.test(tag)) throw new TypeError(`mailwire.address: a tag is 1 to 40 letters, digits, ".", "_" or "-", not ${JSON.stringify(tag)}`);
        return `${tag}${mine}`;
      },
      waitForMessage: ((options: WaitOptions = {}) => client.waitForMessage(scoped(options) as WaitOptions & { count?: undefined })) as WaitForMessage,
      messages: (filter = {}) => client.messages(scoped(filter)),
      url: mailwireServer.url,
      smtp: mailwireServer.smtp,
      client,
    });
  },
});

export const expect = baseExpect.extend(mailwireMatchers);
