/**
 * `mailwire/vitest`: `import 'mailwire/vitest'` (in a test file or `setupFiles`) adds toHaveLink, toHaveCode and
 * toPassHtmlCheck to Vitest's expect, with their types.
 */
import { expect } from 'vitest';
import { mailwireMatchers, type HtmlCheckExpectation } from './matchers.js';

expect.extend(mailwireMatchers);

declare module 'vitest' {
  // The type parameter as Vitest declares it (the interfaces merge only when they are the same).
  interface Matchers<T = any> {
    /** A link of the message matches the pattern (a string: a substring of it). */
    toHaveLink(pattern: RegExp | string): T;
    /** The message has a one-time code; with an argument, that code (or one matching the RegExp). */
    toHaveCode(expected?: RegExp | string): T;
    /** The server's HTML check scores the message at least `min` (0 to 1, default 0.8) over `clients`. Await it. */
    toPassHtmlCheck(options?: HtmlCheckExpectation): Promise<T>;
  }
}

export { mailwireMatchers, type HtmlCheckExpectation };
