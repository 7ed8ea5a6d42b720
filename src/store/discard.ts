import type { MessageSink } from './types.js';

/** `--store none`: accepts and forgets everything, like Postfix's smtp-sink; for benchmarks. */
export function createDiscardSink(): MessageSink {
  let next = 0;
  return {
    save: () => Promise.resolve(`discarded-${++next}`),
    saveSession: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
