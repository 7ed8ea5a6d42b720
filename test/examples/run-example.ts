/**
 * Runs one of the example suites under examples/ with its own runner (Vitest, Jest, @playwright/test), as a user's CI
 * would, and reads the runner's JSON report. The suites import the built package (dist/) by its name.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from '../helpers/child.js';

/** The repository root (this file runs as dist/test/examples/run-example.js). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type ExampleRun = { code: number | null; report: unknown; output: string };

/**
 * `args` after the runner's script; `reportArgs(file)` tells the runner to write its JSON report to `file`.
 * MAILWIRE_EXAMPLE_BREAK=1 in `env` makes each suite's first test fail on purpose.
 */
export async function runExample(script: string, args: readonly string[], reportArgs: (file: string) => { args: string[]; env: NodeJS.ProcessEnv },
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): Promise<ExampleRun> {
  const dir = await mkdtemp(join(tmpdir(), 'mailwire-example-'));
  try {
    const file = join(dir, 'report.json');
    const report = reportArgs(file);
    const env: NodeJS.ProcessEnv = { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0', ...report.env, ...options.env };
    delete env['MAILWIRE_URL']; // the suites start their own mailwire
    const r = await runChild(process.execPath, [...(options.nodeArgs ?? []), join(ROOT, script), ...args, ...report.args], { env, timeoutMs: 150_000, cwd: ROOT });
    const output = `${r.stdout}\n${r.stderr}`;
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new Error(`${script} wrote no JSON report (exit ${r.code}): ${String(error)}\n${output}`);
    }
    return { code: r.code, report: parsed, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
