/**
 * The filter parameters of GET /api/v1/sessions: `failed=true` (only sessions that went wrong), `client=ADDRESS`
 * (one client's), `address=MAILBOX` (sessions that named it in MAIL FROM or RCPT TO). A malformed one is a 400.
 */
import type { Context } from 'hono';
import type { SessionFilter } from '../../store/session-filter.js';
import { badRequest } from '../params.js';

const MAX_CLIENT = 64; // an IPv6 address with a zone, or "release"
const MAX_ADDRESS = 320; // RFC 5321 §4.5.3.1: 64 + @ + 255

export function sessionFilterParams(c: Context): SessionFilter {
  const failed = c.req.query('failed');
  const client = c.req.query('client');
  const address = c.req.query('address');
  if (failed !== undefined && !['true', 'false', ''].includes(failed)) throw badRequest('failed must be true or false');
  if (client !== undefined && client.length > MAX_CLIENT) throw badRequest(`client must be an address of at most ${MAX_CLIENT} characters`);
  if (address !== undefined && address.length > MAX_ADDRESS) throw badRequest(`address must be at most ${MAX_ADDRESS} characters`);
  return {
    ...(failed === 'true' ? { failed: true } : {}),
    ...(client === undefined || client === '' ? {} : { client }),
    ...(address === undefined || address === '' ? {} : { address }),
  };
}
