/**
 * --log-format json: every line the server prints, on stdout and stderr, is one JSON object, including what goes
 * wrong outside a session (here a cluster worker that dies and is replaced).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/mail.js';
import { startProgram } from '../helpers/program.js';

/** The PIDs of a process's children (Linux /proc), read by the test that started the parent. */
function childrenOf(pid: number): number[] {
  const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return tasks.split(' ').filter((t) => t !== '').map(Number);
}

describe('--log-format json', () => {
  it('prints only JSON lines, the warning about a worker that died included', async () => {
    const dir = tempDir();
    const program = startProgram(['server', '--dialect', 'smtp', '--log-format', 'json', '--workers', '2', '--port', '0', '--http-port', '0', '--data-dir', dir]);
    try {
      await program.waitFor(/HTTP API on http:\/\/127\.0\.0\.1:\d+/, 20_000);
      const pid = program.child.pid;
      assert.ok(pid !== undefined);
      const [worker] = childrenOf(pid);
      assert.ok(worker !== undefined, 'no cluster worker under the primary');
      process.kill(worker, 'SIGKILL');
      await program.waitFor(new RegExp(`SMTP worker ${worker} exited \\(SIGKILL\\)`), 20_000);
      assert.equal(await program.stop(), 0);

      const lines = program.output().split('\n').filter((l) => l !== '');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
      const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.includes(`worker ${worker} exited`));
      assert.deepEqual(warning && { level: warning.level, msg: warning.msg }, { level: 40, msg: `mailwire: SMTP worker ${worker} exited (SIGKILL); starting another` });
    } finally {
      if (program.child.exitCode === null) program.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
