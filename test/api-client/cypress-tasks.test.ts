/**
 * mailwire/cypress: the cy.task functions README's Cypress recipe registers, called as Cypress calls them (plain
 * functions, JSON in and out) against a real server, with mail sent by nodemailer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { MailwireClient, MailwireTimeoutError, startMailwire, type Mailwire } from 'mailwire';
import { mailwireTasks } from 'mailwire/cypress';

let mailwire: Mailwire;
let tasks: ReturnType<typeof mailwireTasks>;
before(async () => {
  mailwire = await startMailwire();
  tasks = mailwireTasks(new MailwireClient(mailwire.url));
});
after(() => mailwire.close());

async function send(to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
  await transport.sendMail({ from: 'app@x.test', to, subject, html: `<p>Code 918273. <a href="https://app.test/confirm/${subject}">Confirm</a></p>` });
  transport.close();
}

describe('mailwireTasks (cy.task)', () => {
  it('mailwire:waitForMessage answers plain JSON with links and codes; receivedAfter as an ISO string', async () => {
    const started = new Date().toISOString(); // a Date crosses cy.task as this string
    const waiting = tasks['mailwire:waitForMessage']({ to: 'cy@x.test', receivedAfter: started, timeout: 10_000 });
    await send('cy@x.test', 'one');
    const mail = await waiting;
    assert.ok(!Array.isArray(mail));
    assert.equal(Object.getPrototypeOf(mail), Object.prototype);
    assert.deepEqual([mail.subject, mail.links, mail.codes], ['one', ['https://app.test/confirm/one'], ['918273']]);
    assert.deepEqual(JSON.parse(JSON.stringify(mail)), mail, 'survives the trip to the browser unchanged');
    await assert.rejects(tasks['mailwire:waitForMessage']({ to: 'cy@x.test', receivedAfter: 'now', timeout: 0 }), MailwireTimeoutError);
    await assert.rejects(tasks['mailwire:waitForMessage']({ receivedAfter: 'last tuesday' }),
      /mailwire:waitForMessage: receivedAfter is 'now' or an ISO time, not "last tuesday"/);
  });

  it('mailwire:waitForMessage with count, mailwire:messages and mailwire:clear (null as Cypress passes no argument)', async () => {
    await send('cy-two@x.test', 'a');
    await send('cy-two@x.test', 'b');
    const both = await tasks['mailwire:waitForMessage']({ inbox: 'cy-two@x.test', count: 2, timeout: 10_000 });
    assert.ok(Array.isArray(both));
    assert.deepEqual(both.map((m) => m.subject), ['a', 'b']);
    assert.deepEqual((await tasks['mailwire:messages']({ inbox: 'cy-two@x.test' })).map((m) => m.subject), ['b', 'a']);
    assert.equal(await tasks['mailwire:clear']({ inbox: 'cy-two@x.test' }), 2);
    assert.equal((await tasks['mailwire:messages'](null)).length, 1);
    assert.equal(await tasks['mailwire:clear'](null), 1);
  });
});
