/**
 * Real headless Chromium for the UI tests: Debian's `chromium` (Playwright's own download does not work here),
 * driven by playwright-core, with a fresh profile per launch and nothing that phones home.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
] as const;

export function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium (scripts/test-setup.sh, the pretest of npm test, does this as root)');
  }
}

export type Browser = Readonly<{ context: BrowserContext; close: () => Promise<void> }>;

/** A persistent context on a fresh temp profile (launchPersistentContext is how a user-data dir is given). */
export async function launchBrowser(viewport = { width: 1400, height: 900 }, colorScheme: 'light' | 'dark' = 'light'): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'mailwire-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    args: [...CHROMIUM_ARGS],
    headless: true,
    viewport,
    colorScheme,
    acceptDownloads: true,
    timeout: 30_000,
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** test-results/ at the repository root (this file runs as dist/test/helpers/browser.js). */
export function resultsDir(): string {
  const dir = fileURLToPath(new URL('../../../test-results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}
