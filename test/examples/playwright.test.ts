/**
 * examples/playwright: the @playwright/test project using mailwire/playwright (a mailwire per worker, an inbox per
 * test, the matchers) signs up on a tiny app in Debian's chromium, waits for the mail, follows its link: 2 of 2 pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chromiumPath } from '../helpers/browser.js';
import { runExample } from './run-example.js';

type Stats = { expected: number; unexpected: number; flaky: number; skipped: number };

describe('the @playwright/test example project (examples/playwright)', () => {
  it('passes: 2 of 2, the sign-up confirmed through the link in the caught mail', async () => {
    const r = await runExample('node_modules/@playwright/test/cli.js', ['test', '--config', 'examples/playwright/playwright.config.ts'],
      (file) => ({ args: ['--reporter=json'], env: { PLAYWRIGHT_JSON_OUTPUT_NAME: file } }), { env: { CHROMIUM_PATH: chromiumPath() } });
    const stats = (r.report as { stats: Stats }).stats;
    assert.deepEqual([r.code, stats.expected, stats.unexpected, stats.flaky, stats.skipped], [0, 2, 0, 0, 0], r.output);
  });
});
