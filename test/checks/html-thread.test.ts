/**
 * The HTML check off the threads that serve SMTP and HTTP (issue 29): the thread's report equals checkHtml's, the
 * event loop keeps turning while a large check runs, and the queue is bounded (a check past it is refused at once).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { checkHtml } from '../../src/checks/html.js';
import { HtmlCheckBusy, HtmlCheckThread } from '../../src/checks/html-thread.js';

const newsletter = (rows: number): string => '<!DOCTYPE html><html><head><style>.a{display:flex}@media (max-width:600px){.b{width:100%}}</style></head><body><table>' +
  Array.from({ length: rows }, (_, i) => `<tr><td style="padding:4px 8px;background-image:url(https://cdn.test/b${i}.png)"><h2>${i}</h2>` +
    `<a href="https://x.test/${i}" target="_blank">go</a><img src="https://cdn.test/p${i}.jpg" width="10"></td></tr>`).join('') + '</table></body></html>';

describe('the HTML check thread', () => {
  const thread = new HtmlCheckThread({ maxQueued: 2 });
  after(() => thread.close());

  it('answers what checkHtml answers, for all clients and for some', async () => {
    const html = newsletter(20);
    assert.deepEqual(await thread.check(html), checkHtml(html));
    assert.deepEqual(await thread.check(html, ['gmail.android', 'outlook.windows']), checkHtml(html, ['gmail.android', 'outlook.windows']));
  });

  it('leaves the event loop free while a large check runs', async () => {
    const html = newsletter(20_000); // about 4 MB
    await thread.check('<p>warm</p>');
    let turns = 0;
    let turning = true;
    const turn = (): void => {
      turns++;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const started = performance.now();
    const report = await thread.check(html);
    const ms = performance.now() - started;
    turning = false;
    assert.ok(report.features.some((f) => f.slug === 'css-display-flex'));
    assert.ok(turns >= 10, `the event loop turned ${turns} times in the ${ms.toFixed(0)} ms of the check`);
  });

  it('refuses a check past its queue at once, and answers the others', async () => {
    const html = newsletter(2_000);
    const calls = Array.from({ length: 5 }, () => thread.check(html).then(() => 'done', (e: unknown) => (e instanceof HtmlCheckBusy ? 'busy' : `other: ${String(e)}`)));
    assert.deepEqual(await Promise.all(calls), ['done', 'done', 'done', 'busy', 'busy']);
    assert.equal(thread.inFlight, 0);
  });
});
