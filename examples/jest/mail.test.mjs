// Matchers from mailwire/jest (loaded by setupFilesAfterEnv in jest.config.mjs) on mail caught by startMailwire.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import nodemailer from 'nodemailer';
import { startMailwire } from 'mailwire';

let mailwire;
beforeAll(async () => { mailwire = await startMailwire(); });
afterAll(() => mailwire.close());

async function sendSignup(to, code) {
  const transport = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
  await transport.sendMail({
    from: 'app@example.test', to, subject: 'Confirm your address',
    text: `Your code is ${code}. Confirm: https://app.example.test/confirm?token=t-${code}`,
    html: `<p>Your code is <b>${code}</b>.</p><p><a href="https://app.example.test/confirm?token=t-${code}">Confirm</a></p>`,
  });
  transport.close();
}

test('a sign-up mail has the link and the code', async () => {
  const to = 'jest+signup@example.test';
  await sendSignup(to, '482913');
  const mail = await mailwire.waitForMessage({ inbox: to, timeout: 10_000 });
  expect(mail).toHaveLink(/\/confirm\?token=t-482913$/);
  expect(mail).toHaveLink('app.example.test/confirm');
  expect(mail).toHaveCode();
  expect(mail).toHaveCode('482913');
  expect(mail).not.toHaveCode('000000');
  expect(mail).not.toHaveLink(/reset/);
  await expect(mail).toPassHtmlCheck({ min: 0.5 });
  await expect(mail).toPassHtmlCheck({ clients: 'apple-mail.*', min: 0.9 });
  if (process.env['MAILWIRE_EXAMPLE_BREAK'] === '1') expect(mail).toHaveLink(/never-there/); // the wrapper's deliberate failure
});

test('a failing matcher says what the message has', async () => {
  const mail = await mailwire.waitForMessage({ inbox: 'jest+signup@example.test', timeout: 10_000 });
  expect(() => expect(mail).toHaveLink(/reset/)).toThrow(
    /expected the message "Confirm your address" \(.+\) to have a link matching \/reset\/; its links: https:\/\/app\.example\.test\/confirm\?token=t-482913/);
  expect(() => expect(mail).toHaveCode('111111')).toThrow(/to have the code 111111; its codes: 482913/);
  expect(() => expect({ subject: 'x' }).toHaveCode()).toThrow(/toHaveCode: expected a message from waitForMessage\(\)/);
});

test('count and receivedAfter wait for the next two mails', async () => {
  const to = 'jest+twice@example.test';
  const waiting = mailwire.waitForMessage({ inbox: to, count: 2, receivedAfter: 'now', timeout: 10_000 });
  await sendSignup(to, '111222');
  await sendSignup(to, '333444');
  const [first, second] = await waiting;
  expect(first).toHaveCode('111222');
  expect(second).toHaveCode('333444');
});
