/**
 * Waiting for the thing itself: poll until `probe` finds it, and fail loudly (naming what was awaited and what was
 * last seen) when the deadline passes. Never a fixed sleep followed by a look at whatever is there. The probe may be
 * async (a fetch, a query) and may throw to stop the wait at once (a child process that exited).
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { deadlineMs?: number; everyMs?: number; seen?: () => unknown } = {},
): Promise<T> {
  const deadlineMs = opts.deadlineMs ?? 10_000;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined && found !== null && found !== false) return found;
    if (Date.now() > deadline) {
      const seen = opts.seen === undefined ? '' : `; last seen: ${String(opts.seen())}`;
      throw new Error(`waited ${deadlineMs} ms for ${what}${seen}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}

/** waitFor with a probe that must itself wait (an HTTP request): polls until it finds the thing, or fails loudly. */
export async function waitForAsync<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  opts: { deadlineMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadlineMs = opts.deadlineMs ?? 10_000;
  const deadline = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    const found = await probe();
    if (found !== undefined && found !== null && found !== false) return found;
    last = found;
    if (Date.now() > deadline) throw new Error(`waited ${deadlineMs} ms for ${what}; last seen: ${String(last)}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
