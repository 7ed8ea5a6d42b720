/**
 * The HTTP API's refusals and the query parameters more than one route reads. A route throws an HttpError; the app's
 * onError (app.ts) turns it into `{"error": {"code", "message"}}` with its status.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { MAX_PAGE_SIZE } from '../config.js';

export class HttpError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'bad_request', message);
export const notFound = (what: string): HttpError => new HttpError(404, 'not_found', `no such ${what}`);

/** The one shape of every refusal: `{"error": {"code", "message"}}`. */
export const jsonError = (c: Context, status: ContentfulStatusCode, code: string, message: string): Response =>
  c.json({ error: { code, message } }, status);

/** `?limit=`: absent or empty means the store's default; otherwise a whole number from 1 to MAX_PAGE_SIZE. */
export function limitParam(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_PAGE_SIZE) throw badRequest(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return Number(v);
}
