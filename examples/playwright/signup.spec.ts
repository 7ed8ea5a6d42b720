// Sign up on the example app, wait for the mail with the fixture, follow its link. `test` and `expect` come from
// mailwire/playwright: a mailwire per worker, a unique inbox per test, and the mail matchers.
import { test as mailwireTest, expect } from 'mailwire/playwright';
import { startApp } from './app.js';

// The app under test, per worker, sending its mail to the worker's mailwire.
const test = mailwireTest.extend<object, { app: string }>({
  app: [async ({ mailwireServer }, use) => {
    if (mailwireServer.smtp === null) throw new Error('the mailwire at MAILWIRE_URL did not say where its SMTP listens');
    const app = await startApp(mailwireServer.smtp);
    try { await use(app.url); } finally { await app.close(); }
  }, { scope: 'worker' }],
});

test('sign up, then confirm with the link in the mail', async ({ page, app, mailwire }) => {
  const email = mailwire.address('signup');
  expect(email).toMatch(/^signup\+[0-9a-f]{10}@mailwire\.test$/);
  await page.goto(app);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByText('Check your mail.')).toBeVisible();

  const mail = await mailwire.waitForMessage({ timeout: 10_000 });
  expect(mail.to.map((a) => a.address)).toEqual([email]);
  expect(mail).toHaveLink(/\/confirm\?token=\w+$/);
  expect(mail).toHaveCode(/^\d{6}$/);
  expect(mail).not.toHaveLink(/reset/);
  await expect(mail).toPassHtmlCheck({ min: 0.5 });
  if (process.env['MAILWIRE_EXAMPLE_BREAK'] === '1') expect(mail).toHaveLink(/never-there/); // the wrapper's deliberate failure

  await page.goto(mail.links[0] ?? '');
  await expect(page.getByText(`Confirmed ${email}`)).toBeVisible();
});

test('each test has its own inbox: the first test\'s mail is not this one\'s', async ({ mailwire }) => {
  await expect(mailwire.waitForMessage({ timeout: 0 })).rejects.toThrow(/no message matching to:"\+[0-9a-f]{10}@mailwire\.test" arrived within 0 ms/);
  expect(await mailwire.messages()).toEqual([]);
  expect(() => mailwire.address('no spaces')).toThrow(/a tag is 1 to 40 letters/);
});
