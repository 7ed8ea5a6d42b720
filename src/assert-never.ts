/**
 * The `default:` of every switch over a discriminated union (Action, Command, Input, a query term, a worker message):
 * a new variant fails to compile there, and reaching it at run time is our bug, never the peer's.
 */
export function assertNever(x: never): never {
  throw new Error(`unexpected variant: ${JSON.stringify(x)}`);
}
