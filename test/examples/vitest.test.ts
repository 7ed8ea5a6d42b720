/** examples/vitest: the Vitest suite using mailwire/vitest's matchers passes, and fails when one of them fails. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runExample } from './run-example.js';

type VitestReport = { success: boolean; numTotalTests: number; numPassedTests: number; numFailedTests: number; testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };

const run = (env: NodeJS.ProcessEnv = {}) => runExample('node_modules/vitest/vitest.mjs', ['run', '--root', 'examples/vitest'],
  (file) => ({ args: ['--reporter=json', `--outputFile=${file}`], env: {} }), { env });

describe('the Vitest example suite (examples/vitest)', () => {
  it('passes: 3 of 3', async () => {
    const r = await run();
    const report = r.report as VitestReport;
    assert.deepEqual([r.code, report.numTotalTests, report.numPassedTests, report.numFailedTests], [0, 3, 3, 0], r.output);
  });

  it('fails, exit 1, when a matcher fails (MAILWIRE_EXAMPLE_BREAK=1), with the matcher\'s message', async () => {
    const r = await run({ MAILWIRE_EXAMPLE_BREAK: '1' });
    const report = r.report as VitestReport;
    assert.deepEqual([r.code, report.numPassedTests, report.numFailedTests], [1, 2, 1], r.output);
    const failed = report.testResults.flatMap((f) => f.assertionResults).filter((t) => t.status === 'failed');
    assert.equal(failed[0]?.title, 'a sign-up mail has the link and the code');
    assert.match(failed[0]?.failureMessages.join('\n') ?? '', /to have a link matching \/never-there\/; its links: https:\/\/app\.example\.test\/confirm\?token=t-482913/);
  });
});
