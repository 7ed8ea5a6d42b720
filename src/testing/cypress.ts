/**
 * `mailwire/cypress`: tasks for Cypress's `cy.task`, which runs in Node (Cypress's `setupNodeEvents`), where a
 * MailwireClient can wait on the server. Cypress itself is not needed here: these are plain functions.
 *
 *   setupNodeEvents(on) { on('task', mailwireTasks(new MailwireClient('http://127.0.0.1:8025'))); }
 *   cy.task('mailwire:waitForMessage', { to: 'qa@x.test', receivedAfter: 'now' }).then((mail) => cy.visit(mail.links[0]));
 */
import type { MailwireClient } from '../api-client/client.js';
import type { CaughtMessage, MessageFilter, WaitOptions } from '../api-client/message.js';

/** waitForMessage's options as they cross cy.task (JSON): `receivedAfter` may be an ISO time string. */
export type TaskWaitOptions = Omit<WaitOptions, 'receivedAfter'> & Readonly<{ receivedAfter?: Date | string }>;

export type MailwireTasks = {
  /** One message (or, with `count`, an array of them), as plain JSON. */
  'mailwire:waitForMessage': (options?: TaskWaitOptions | null) => Promise<CaughtMessage | CaughtMessage[]>;
  'mailwire:messages': (filter?: MessageFilter | string | null) => Promise<CaughtMessage[]>;
  /** How many went (a task must not resolve with undefined). */
  'mailwire:clear': (filter?: MessageFilter | string | null) => Promise<number>;
};

export function mailwireTasks(client: MailwireClient): MailwireTasks {
  return {
    'mailwire:waitForMessage': async (options) => {
      const { receivedAfter, ...rest } = options ?? {};
      let since: Date | 'now' | undefined;
      if (receivedAfter === undefined || receivedAfter === 'now' || receivedAfter instanceof Date) since = receivedAfter;
      else {
        since = new Date(receivedAfter);
        if (Number.isNaN(since.getTime())) throw new TypeError(`mailwire:waitForMessage: receivedAfter is 'now' or an ISO time, not ${JSON.stringify(receivedAfter)}`);
      }
      const wait: WaitOptions = since === undefined ? rest : { ...rest, receivedAfter: since };
      // Plain JSON: what cy.task hands to the browser anyway.
      return JSON.parse(JSON.stringify(await client.waitForMessage(wait as WaitOptions & { count?: undefined }))) as CaughtMessage | CaughtMessage[];
    },
    'mailwire:messages': async (filter) => JSON.parse(JSON.stringify(await client.messages(filter ?? {}))) as CaughtMessage[],
    'mailwire:clear': (filter) => client.clear(filter ?? {}),
  };
}
