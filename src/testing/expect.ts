/**
 * `mailwire/expect`: the matchers for any runner whose `expect` has `extend` (Vitest, Jest, Playwright):
 * `expect.extend(mailwireMatchers)`. `mailwire/vitest` and `mailwire/jest` do that call, and declare the types.
 */
export { mailwireMatchers, DEFAULT_HTML_MIN, type HtmlCheckExpectation, type MailwireMatchers, type MatcherResult, type MatcherState } from './matchers.js';
