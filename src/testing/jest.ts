/**
 * `mailwire/jest`: listed in Jest's `setupFilesAfterEnv` (or imported by a test file), adds toHaveLink, toHaveCode and
 * toPassHtmlCheck to Jest's global expect, with their types for `@types/jest`'s globals. (With `@jest/globals`,
 * call `expect.extend(mailwireMatchers)` from `mailwire/expect`.)
 */
import { mailwireMatchers, type HtmlCheckExpectation } from './matchers.js';

const jestExpect = (globalThis as { expect?: { extend?: (matchers: object) => void } }).expect;
if (typeof jestExpect?.extend !== 'function') {
  throw new Error("mailwire/jest: there is no global expect here; load it from Jest's setupFilesAfterEnv, or import { mailwireMatchers } from 'mailwire/expect' and call expect.extend(mailwireMatchers)");
}
jestExpect.extend(mailwireMatchers);

declare global {
  namespace jest {
    // The type parameters as @types/jest declares them (the interfaces merge only when they are the same).
    interface Matchers<R, T = {}> {
      /** A link of the message matches the pattern (a string: a substring of it). */
      toHaveLink(pattern: RegExp | string): R;
      /** The message has a one-time code; with an argument, that code (or one matching the RegExp). */
      toHaveCode(expected?: RegExp | string): R;
      /** The server's HTML check scores the message at least `min` (0 to 1, default 0.8) over `clients`. Await it. */
      toPassHtmlCheck(options?: HtmlCheckExpectation): Promise<R>;
    }
  }
}

export { mailwireMatchers, type HtmlCheckExpectation };
