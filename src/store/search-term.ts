/**
 * The one way to put a value in a search query as a quoted string (what ./query.ts reads back: `\` escapes the next
 * character). Imports nothing, so the API client, the web routes and the browser UI all use it.
 */
export const quoteTerm = (value: string): string => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
