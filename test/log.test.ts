/**
 * The one log (src/log.ts): text as console.error prints it by default; after setLogFormat('json'), pino JSON lines,
 * from the main thread and from worker threads started after it alike. Run in a child process whose stderr we read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';

const LOG = new URL('../src/log.js', import.meta.url).href;

/** Logs from the main thread, then from a worker thread; resolves with what the process wrote to stderr. */
async function stderrOf(format: 'text' | 'json' | null): Promise<string> {
  const script = `
    import { Worker } from 'node:worker_threads';
    import { once } from 'node:events';
    import { logError, logWarning, setLogFormat } from ${JSON.stringify(LOG)};
    ${format === null ? '' : `setLogFormat(${JSON.stringify(format)});`}
    logWarning('main: restarting');
    logError('main: failed:', Object.assign(new Error('disk gone'), { code: 'EIO' }));
    const w = new Worker(${JSON.stringify(`import { logError } from ${JSON.stringify(LOG)}; logError('worker: indexing failed')`)}, { eval: true, type: 'module' });
    await once(w, 'exit');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = await once(child, 'exit') as [number | null];
  assert.equal(code, 0, err);
  return err;
}

describe('the log', () => {
  it('prints text lines by default, the error with its stack', async () => {
    const lines = (await stderrOf(null)).split('\n');
    assert.equal(lines[0], 'main: restarting');
    assert.match(lines[1] ?? '', /^main: failed: Error: disk gone$/);
    assert.match(lines[2] ?? '', /^ {4}at /);
    assert.ok(lines.includes('worker: indexing failed'));
  });

  it('prints one JSON object a line after setLogFormat("json"), from worker threads too', async () => {
    const lines = (await stderrOf('json')).split('\n').filter((l) => l !== '');
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; service: string; err?: { message: string; code: string; stack: string } });
    assert.deepEqual(parsed.map((l) => [l.level, l.msg, l.service]), [
      [40, 'main: restarting', 'mailwire'],
      [50, 'main: failed', 'mailwire'],
      [50, 'worker: indexing failed', 'mailwire'],
    ]);
    assert.equal(parsed[1]?.err?.message, 'disk gone');
    assert.equal(parsed[1]?.err?.code, 'EIO');
  });
});
