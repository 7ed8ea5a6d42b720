/** The API described for clients: served at /api/openapi.json. Kept by hand beside app.ts; a test checks paths. */
import { DEFAULT_PAGE_SIZE, DEFAULT_WAIT_SECONDS, MAX_PAGE_SIZE, MAX_WAIT_SECONDS } from '../config.js';

const error = { $ref: '#/components/responses/Error' };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Message id; any unknown id gives 404' };
const cursorParam = { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'Opaque: the nextCursor of the previous page' };
const limitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } };
const queryParam = {
  name: 'query', in: 'query', schema: { type: 'string', maxLength: 1000 },
  description: 'Words (full text over subject, addresses, body; "quoted phrase"), from:, to: (To, Cc, Bcc and envelope recipients), ' +
    'subject: (case-insensitive substring, "quoted values"), before:/after: (YYYY-MM-DD UTC or ISO time), has:attachment, ' +
    'is:read, is:unread, inbox:ADDRESS (exactly this envelope recipient); a leading - negates. Malformed: 400 bad_query.',
};
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9-]{1,63}$' }, description: 'Workspace name' };
const json = (schema: object): object => ({ content: { 'application/json': { schema } } });
const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });

export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'mailwire API', version: '1.0.0', description: 'Messages and SMTP sessions caught by mailwire.' },
  paths: {
    '/api/v1/messages': {
      get: {
        summary: 'List messages, newest first', parameters: [queryParam, limitParam, cursorParam],
        responses: { 200: { description: 'A page', ...json({ type: 'object', required: ['messages', 'nextCursor'], properties: { messages: { type: 'array', items: ref('MessageSummary') }, nextCursor: { type: ['string', 'null'] } } }) }, 400: error },
      },
      delete: {
        summary: 'Delete every message the query matches (all without a query)', parameters: [queryParam],
        responses: { 200: { description: 'Deleted', ...json({ type: 'object', properties: { deleted: { type: 'integer' }, ids: { type: 'array', items: { type: 'string' } } } }) }, 400: error },
      },
      patch: {
        summary: 'Mark every message the query matches read or unread (all without a query)', parameters: [queryParam],
        requestBody: { required: true, ...json({ type: 'object', required: ['read'], properties: { read: { type: 'boolean' } } }) },
        responses: { 200: { description: 'How many changed', ...json({ type: 'object', properties: { updated: { type: 'integer' }, read: { type: 'boolean' } } }) }, 400: error },
      },
    },
    '/api/v1/messages/count': {
      get: {
        summary: 'The exact number of messages the query matches (all without a query), and how many of them are unread', parameters: [queryParam],
        responses: { 200: { description: 'The count', ...json({ type: 'object', required: ['total', 'unread'], properties: { total: { type: 'integer' }, unread: { type: 'integer' } } }) }, 400: error },
      },
    },
    '/api/v1/messages/wait': {
      get: {
        summary: 'Long-poll for a message matching the query',
        description: 'Without `after`: returns the newest matching message at once if there is one, else waits for the next. ' +
          'With `after` (the `cursor` of a previous answer): the oldest matching message stored after it. ' +
          'On timeout answers 408 with error code "timeout".',
        parameters: [queryParam,
          { name: 'timeout', in: 'query', schema: { type: 'number', minimum: 0, maximum: MAX_WAIT_SECONDS, default: DEFAULT_WAIT_SECONDS }, description: 'Seconds' },
          { name: 'after', in: 'query', schema: { type: 'string' }, description: 'A cursor from a previous wait' },
          { name: 'receivedAfter', in: 'query', schema: { type: 'string' }, description: '"now" (this server\'s clock) or an ISO time: only mail received from then on; every answer names the instant as `receivedAfter`' },
          { name: 'count', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 }, description: 'Wait for this many matches; the answer is `messages`, oldest first (not with `after`)' }],
        responses: {
          200: { description: 'The message, with links and numeric one-time codes (4-8 digits) found in its subject, text and HTML; with `count`, `messages`, each with its links and codes', ...json({
            type: 'object',
            properties: {
              message: ref('MessageDetail'), cursor: { type: 'string' }, links: { type: 'array', items: { type: 'string' } }, codes: { type: 'array', items: { type: 'string' } },
              messages: { type: 'array', items: ref('MessageDetail') }, receivedAfter: { type: 'string', format: 'date-time' },
            },
          }) },
          400: error, 408: { description: 'No matching message in time', ...json(ref('Error')) },
        },
      },
    },
    '/api/v1/messages/{id}': {
      get: { summary: 'One message: summary, headers, text, HTML, attachments, envelope, read flag, size', parameters: [idParam], responses: { 200: { description: 'The message', ...json(ref('MessageDetail')) }, 404: error } },
      patch: {
        summary: 'Mark read or unread', parameters: [idParam],
        requestBody: { required: true, ...json({ type: 'object', required: ['read'], properties: { read: { type: 'boolean' } } }) },
        responses: { 200: { description: 'Updated', ...json({ type: 'object', properties: { id: { type: 'string' }, read: { type: 'boolean' } } }) }, 400: error, 404: error },
      },
      delete: { summary: 'Delete one message', parameters: [idParam], responses: { 204: { description: 'Deleted' }, 404: error } },
    },
    '/api/v1/messages/{id}/release': {
      post: {
        summary: 'Send the stored message on to the relay configured with --relay (the request names recipients, never a server)',
        parameters: [idParam],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['to'], properties: {
            to: { type: 'array', items: { type: 'string' }, minItems: 1 },
            from: { type: 'string', description: 'Envelope sender; default: the one the message came with' },
          } } } },
        },
        responses: {
          200: { description: 'Relayed: { released: true, relay, result, transcript, sessionId }' },
          400: error, 404: error,
          409: { description: 'No relay configured (start the server with --relay host:port)' },
          502: { description: 'The relay refused or could not be reached: { released: false, relay, result, transcript }' },
        },
      },
    },
    '/api/v1/messages/{id}/raw': {
      get: { summary: 'The message exactly as received', parameters: [idParam], responses: { 200: { description: 'Raw bytes', content: { 'message/rfc822': {} } }, 404: error } },
    },
    '/api/v1/messages/{id}/html': {
      get: {
        summary: 'The HTML part, scripts removed, under Content-Security-Policy: sandbox (popups allowed, scripts never)',
        description: 'cid: references are rewritten to this message\'s attachment URLs; links get target="_blank" (a <base>). ' +
          'Remote images, stylesheets and fonts are blocked by the CSP unless images=remote.',
        parameters: [idParam, { name: 'images', in: 'query', schema: { type: 'string', enum: ['blocked', 'remote'], default: 'blocked' } }],
        responses: { 200: { description: 'HTML', content: { 'text/html': {} } }, 400: error, 404: error },
      },
    },
    '/api/v1/messages/{id}/checks/html': {
      get: {
        summary: 'HTML compatibility: each HTML and CSS feature the message uses, where, and its support per mail client (caniemail data); a score per client and overall',
        parameters: [idParam, { name: 'clients', in: 'query', schema: { type: 'string' }, description: 'Client ids or globs, comma-separated: gmail.*,outlook.windows' }],
        responses: { 200: { description: 'The report', ...json({ type: 'object', required: ['dataDate', 'features', 'clients', 'score', 'remote'] }) }, 400: error, 404: error },
      },
    },
    '/api/v1/messages/{id}/checks/headers': {
      get: {
        summary: 'Header findings without the network: Date, Message-ID, From, MIME-Version, empty text alternative, List-Unsubscribe-Post, long lines, raw non-ASCII, the DKIM body hash',
        parameters: [idParam],
        responses: { 200: { description: 'The findings', ...json({ type: 'object', required: ['findings', 'dkim'] }) }, 404: error },
      },
    },
    '/api/v1/messages/{id}/checks/links': {
      post: {
        summary: 'Requests every link and image URL (HEAD, then GET), through the SSRF guard: status, final URL, redirects, time; 2 at a time per host, 10 s each, cached 60 s',
        parameters: [idParam],
        responses: { 200: { description: 'The links', ...json({ type: 'object', required: ['links', 'errors'] }) }, 403: error, 404: error },
      },
    },
    '/api/v1/messages/{id}/checks/spam': {
      post: {
        summary: 'The spam score from SpamAssassin\'s spamd (--spamd) or rspamd (--rspamd): score, threshold, verdict, every rule that fired',
        parameters: [idParam],
        responses: { 200: { description: 'The report', ...json({ type: 'object', required: ['checker', 'score', 'threshold', 'spam', 'action', 'rules'] }) }, 403: error, 404: error, 502: error },
      },
    },
    '/api/v1/messages/{id}/screenshot': {
      get: {
        summary: 'The HTML rendered by headless Chromium (JavaScript off, every request blocked but data: and cid: unless remote=1 and the SSRF rules allow it)',
        parameters: [idParam, { name: 'width', in: 'query', schema: { type: 'integer', minimum: 200, maximum: 2000, default: 390 } },
          { name: 'format', in: 'query', schema: { type: 'string', enum: ['png', 'jpeg'], default: 'png' } },
          { name: 'full', in: 'query', schema: { type: 'string', enum: ['0', '1'] } }, { name: 'remote', in: 'query', schema: { type: 'string', enum: ['0', '1'] } }],
        responses: { 200: { description: 'The image', content: { 'image/png': {}, 'image/jpeg': {} } }, 400: error, 403: error, 404: error, 501: error },
      },
    },
    '/api/v1/messages/{id}/attachments/{n}': {
      get: {
        summary: 'Download an attachment (from 0); images other than SVG inline, the rest as attachment; nosniff',
        parameters: [idParam, { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } }],
        responses: { 200: { description: 'Decoded bytes' }, 404: error },
      },
    },
    '/api/v1/inboxes': {
      get: {
        summary: 'Every envelope recipient address is an inbox: the inboxes in address order, with their message counts',
        parameters: [{ name: 'prefix', in: 'query', schema: { type: 'string', maxLength: 320 }, description: 'Only addresses starting with this (case-insensitive)' }, limitParam, cursorParam],
        responses: { 200: { description: 'A page', ...json({ type: 'object', required: ['inboxes', 'nextCursor'], properties: { inboxes: { type: 'array', items: { type: 'object', required: ['address', 'total', 'unread'], properties: { address: { type: 'string', description: 'Lowercased; plus-addresses as written' }, total: { type: 'integer' }, unread: { type: 'integer' } } } }, nextCursor: { type: ['string', 'null'] } } }) }, 400: error },
      },
    },
    '/api/v1/inboxes/{address}/messages': {
      get: {
        summary: 'One inbox\'s messages: GET /api/v1/messages with inbox:ADDRESS added to the query',
        parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string', maxLength: 320 } }, queryParam, limitParam, cursorParam],
        responses: { 200: { description: 'A page, as GET /api/v1/messages' }, 400: error },
      },
      delete: {
        summary: 'Takes the inbox\'s messages (narrowed by query) out of this inbox only: a message sent to other recipients stays in their inboxes; one no inbox holds any more is deleted (message-deleted event)',
        parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string', maxLength: 320 } }, queryParam],
        responses: { 200: { description: 'Done', ...json({ type: 'object', required: ['removed', 'deleted', 'ids'], properties: { removed: { type: 'integer', description: 'Messages taken out of the inbox' }, deleted: { type: 'integer', description: 'Of those, messages deleted (in no inbox any more)' }, ids: { type: 'array', items: { type: 'string' }, description: 'Ids of the messages deleted' } } }) }, 400: error },
      },
    },
    '/api/v1/inboxes/{address}/wait': {
      get: {
        summary: 'Long-poll one inbox: GET /api/v1/messages/wait with inbox:ADDRESS added to the query',
        parameters: [{ name: 'address', in: 'path', required: true, schema: { type: 'string', maxLength: 320 } }, queryParam,
          { name: 'timeout', in: 'query', schema: { type: 'number', minimum: 0, maximum: MAX_WAIT_SECONDS, default: DEFAULT_WAIT_SECONDS }, description: 'Seconds' },
          { name: 'after', in: 'query', schema: { type: 'string' }, description: 'A cursor from a previous wait' }],
        responses: { 200: { description: 'As GET /api/v1/messages/wait' }, 400: error, 408: { description: 'No matching message in time', ...json(ref('Error')) } },
      },
    },
    '/api/v1/sessions': {
      get: {
        summary: 'List SMTP sessions, newest first', parameters: [limitParam, cursorParam,
          { name: 'failed', in: 'query', schema: { type: 'boolean' }, description: 'true: only sessions that ended in error, timeout, refused or fault' },
          { name: 'client', in: 'query', schema: { type: 'string', maxLength: 64 }, description: 'Only sessions from this client address, exactly (e.g. 127.0.0.1, ::1)' },
          { name: 'address', in: 'query', schema: { type: 'string', maxLength: 320 }, description: 'Only sessions that named this mailbox in MAIL FROM or RCPT TO (ASCII case-insensitive)' }],
        responses: { 200: { description: 'A page', ...json({ type: 'object', properties: { sessions: { type: 'array', items: ref('SessionSummary') }, nextCursor: { type: ['string', 'null'] } } }) }, 400: error },
      },
    },
    '/api/v1/sessions/{id}': {
      get: { summary: 'One session with its transcript', parameters: [{ ...idParam, description: 'Session id' }], responses: { 200: { description: 'The session', ...json(ref('SessionDetail')) }, 404: error } },
    },
    '/api/v1/events': {
      get: { summary: 'Server-Sent Events: message-stored, message-deleted, session-ended, each with data {"id": …}', responses: { 200: { description: 'Event stream', content: { 'text/event-stream': {} } } } },
    },
    '/api/v1/faults': {
      get: { summary: 'The fault document in force, each rule as given with its counters matched and fired (no document: {"seed": 0, "rules": []})', responses: { 200: { description: 'The document', ...json(ref('FaultView')) } } },
      put: {
        summary: 'Replace the fault document (counters start again); a document without rules clears',
        description: 'A bad document is a 400 whose message names the field and why, e.g. "rules[2].every: must be a whole number ≥ 1"; ' +
          'the document in force then stays as it was. The simplified dialect takes only delay and disconnect rules.',
        requestBody: { required: true, ...json(ref('FaultDocument')) },
        responses: { 200: { description: 'The document now in force', ...json(ref('FaultView')) }, 400: error },
      },
      delete: { summary: 'Clear the fault document', responses: { 200: { description: 'The empty document', ...json(ref('FaultView')) } } },
    },
    '/api/v1/workspaces': {
      get: { summary: 'Admins: every workspace (no secret shown)', responses: { 200: { description: 'The workspaces', ...json({ type: 'object', properties: { workspaces: { type: 'array', items: ref('Workspace') } } }) }, 404: error } },
      post: {
        summary: 'Admins: make a workspace', description: 'A bad body is a 400 naming the field; a name in use 409; nothing is half-applied.',
        requestBody: { required: true, ...json(ref('WorkspaceInput')) },
        responses: { 201: { description: 'Made', ...json(ref('Workspace')) }, 400: error, 404: error, 409: error },
      },
    },
    '/api/v1/workspaces/{name}': {
      get: { summary: 'Admins: one workspace', parameters: [nameParam], responses: { 200: { description: 'The workspace', ...json(ref('Workspace')) }, 404: error } },
      patch: {
        summary: 'Admins: change SMTP users, recipient globs or retention', parameters: [nameParam],
        requestBody: { required: true, ...json(ref('WorkspaceInput')) },
        responses: { 200: { description: 'Changed', ...json(ref('Workspace')) }, 400: error, 404: error, 409: error },
      },
      delete: {
        summary: 'Admins: delete a workspace (one holding mail needs ?force=true, and its mail goes with it; default cannot be deleted: 409)',
        parameters: [nameParam, { name: 'force', in: 'query', schema: { type: 'string', enum: ['true'] } }],
        responses: { 200: { description: 'Deleted', ...json({ type: 'object', properties: { deleted: { type: 'string' }, messages: { type: 'integer' } } }) }, 404: error, 409: error },
      },
    },
    '/api/v1/workspaces/{name}/tokens': {
      post: {
        summary: 'Admins: make a token ({"name"}: made by the server, mw_ and 32 random bytes; {"name", "token"}: the one given); shown once',
        parameters: [nameParam],
        requestBody: { required: true, ...json({ type: 'object', required: ['name'], properties: { name: { type: 'string' }, token: { type: 'string', minLength: 16 } } }) },
        responses: { 201: { description: 'The token, shown this once', ...json({ type: 'object', properties: { workspace: { type: 'string' }, name: { type: 'string' }, token: { type: 'string' }, createdAt: { type: 'string' } } }) }, 400: error, 404: error, 409: error },
      },
    },
    '/api/v1/workspaces/{name}/tokens/{token}': {
      delete: {
        summary: 'Admins: revoke a token by its name', parameters: [nameParam, { name: 'token', in: 'path', required: true, schema: { type: 'string' }, description: 'The token\'s name' }],
        responses: { 200: { description: 'Revoked', ...json({ type: 'object', properties: { workspace: { type: 'string' }, revoked: { type: 'string' } } }) }, 404: error },
      },
    },
    '/api/v1/webhooks': {
      get: { summary: 'The webhooks, those of --webhook (source "flag") and those made here (source "api"); secrets shown by their last characters only', responses: { 200: { description: 'The webhooks', ...json({ type: 'object', properties: { webhooks: { type: 'array', items: ref('Webhook') } } }) } } },
      post: {
        summary: 'Make a webhook: {url, events?, query?, payload?, secret?}; answered 201 with its secret (made when not given), shown this once',
        description: 'A bad field is a 400 naming it; a URL the outbound guard refuses (a private address without --webhook-allow-hosts) is a 400 saying which rule.',
        requestBody: { required: true, ...json(ref('WebhookInput')) }, responses: { 201: { description: 'The webhook', ...json(ref('Webhook')) }, 400: error },
      },
    },
    '/api/v1/webhooks/{id}': {
      get: { summary: 'One webhook, with how many deliveries it dropped past its bound', parameters: [{ ...idParam, description: 'Webhook id' }], responses: { 200: { description: 'The webhook', ...json(ref('Webhook')) }, 404: error } },
      patch: { summary: 'Change the fields given (409 for a webhook of --webhook)', parameters: [{ ...idParam, description: 'Webhook id' }], requestBody: { required: true, ...json(ref('WebhookInput')) }, responses: { 200: { description: 'The webhook', ...json(ref('Webhook')) }, 400: error, 404: error, 409: error } },
      delete: { summary: 'Delete the webhook and its deliveries (409 for a webhook of --webhook)', parameters: [{ ...idParam, description: 'Webhook id' }], responses: { 204: { description: 'Deleted' }, 404: error, 409: error } },
    },
    '/api/v1/webhooks/{id}/deliveries': {
      get: { summary: 'Its deliveries, newest first, each with every attempt (time, status, response time, the first 1 KiB of the answer)', parameters: [{ ...idParam, description: 'Webhook id' }, limitParam], responses: { 200: { description: 'The deliveries', ...json({ type: 'object', properties: { deliveries: { type: 'array', items: ref('WebhookDelivery') } } }) }, 404: error } },
    },
    '/api/v1/webhooks/{id}/deliveries/{did}/retry': {
      post: { summary: 'Make a delivery due now, whatever its state (202)', parameters: [{ ...idParam, description: 'Webhook id' }, { name: 'did', in: 'path', required: true, schema: { type: 'string' } }], responses: { 202: { description: 'Queued' }, 404: error } },
    },
    '/api/v1/server': {
      get: {
        summary: 'This server: its version and where each protocol listens (null when not served)',
        responses: { 200: { description: 'The server', ...json(ref('ServerInfo')) } },
      },
    },
    '/healthz': { get: { summary: 'Liveness', responses: { 200: { description: '{"status":"ok"}' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format', content: { 'text/plain': {} } } } } },
  },
  components: {
    responses: { Error: { description: 'Error', ...json(ref('Error')) } },
    schemas: {
      Workspace: {
        type: 'object', description: 'A workspace (issue 26): no password or token is ever shown',
        properties: {
          name: { type: 'string' }, smtp: { type: 'array', items: { type: 'object', properties: { user: { type: 'string' } } } },
          tokens: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, createdAt: { type: 'string' } } } },
          recipients: { type: 'array', items: { type: 'string' } },
          retention: { type: 'object', properties: { maxMessages: { type: 'integer' }, maxAgeMs: { type: 'integer' } } },
          source: { type: 'string', enum: ['file', 'api', 'builtin'] }, createdAt: { type: 'string' },
        },
      },
      WorkspaceInput: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9-]{1,63}$', description: 'POST only' },
          smtp: { type: 'array', items: { type: 'object', required: ['user', 'password'], properties: { user: { type: 'string' }, password: { type: 'string' } } } },
          recipients: { type: 'array', items: { type: 'string' }, description: 'Address globs: * is any run of characters' },
          retention: { type: 'object', properties: { maxMessages: { type: 'integer', minimum: 0 }, maxAge: { type: 'string', description: 'e.g. 7d, 12h' } } },
        },
      },
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', examples: ['not_found', 'bad_request', 'bad_query', 'bad_cursor', 'timeout'] }, message: { type: 'string' } } } } },
      WebhookInput: {
        type: 'object', properties: {
          url: { type: 'string', format: 'uri' }, events: { type: 'array', items: { enum: ['message-stored', 'message-deleted', 'session-ended', 'relay-finished'] } },
          query: { type: 'string', description: 'Search syntax a message must match (message-stored); a webhook with a query hears no message-deleted' },
          payload: { enum: ['summary', 'message', 'raw'] }, secret: { type: 'string', pattern: '^whsec_' },
        },
      },
      Webhook: { type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' }, events: { type: 'array', items: { type: 'string' } }, query: { type: 'string' }, payload: { type: 'string' }, createdAt: { type: 'string' }, source: { enum: ['flag', 'api'] }, secretHint: { type: 'string' }, secret: { type: 'string', description: 'In the answer to POST only' }, dropped: { type: 'integer' } } },
      WebhookDelivery: {
        type: 'object', properties: {
          id: { type: 'string', description: 'The webhook-id header, the same on every attempt' }, webhookId: { type: 'string' }, event: { type: 'string' }, subject: { type: 'string' },
          createdAt: { type: 'integer' }, state: { enum: ['pending', 'delivering', 'delivered', 'failed'] }, nextAt: { type: ['integer', 'null'] },
          attempts: { type: 'array', items: { type: 'object', properties: { at: { type: 'string' }, status: { type: ['integer', 'null'] }, ms: { type: 'number' }, response: { type: 'string' }, error: { type: ['string', 'null'] } } } },
        },
      },
      Mailbox: { type: 'object', properties: { name: { type: 'string' }, address: { type: 'string' } } },
      Envelope: { type: 'object', properties: { helo: { type: 'string' }, from: { type: 'string' }, to: { type: 'array', items: { type: 'string' } } } },
      MessageSummary: {
        type: 'object',
        properties: {
          id: { type: 'string' }, receivedAt: { type: 'string', format: 'date-time' }, size: { type: 'integer' }, read: { type: 'boolean' },
          from: { oneOf: [ref('Mailbox'), { type: 'null' }] }, to: { type: 'array', items: ref('Mailbox') }, cc: { type: 'array', items: ref('Mailbox') },
          subject: { type: 'string' }, date: { type: ['string', 'null'] }, messageId: { type: ['string', 'null'] }, attachmentCount: { type: 'integer' },
          snippet: { type: 'string' }, envelope: ref('Envelope'),
          indexLimited: { type: 'boolean', description: 'Indexed from its headers alone (subject, addresses, date): its body was past the index\'s CPU budget per message, or could not be parsed. The raw bytes are kept whole.' },
        },
      },
      MessageDetail: {
        allOf: [ref('MessageSummary'), {
          type: 'object',
          properties: {
            connection: { type: 'object' }, headers: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } } } },
            text: { type: 'string' }, html: { type: 'string' },
            remoteContent: { type: 'boolean', description: 'The HTML loads something from the network when shown (images, stylesheets, fonts): what /html blocks unless images=remote.' },
            links: { type: 'array', items: { type: 'string' }, description: 'http(s) links in the HTML (href) and text, first seen first, each once' },
            codes: { type: 'array', items: { type: 'string' }, description: 'Numbers of 4 to 8 digits standing alone in the subject, text or HTML (one-time codes), each once' },
            attachments: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, filename: { type: 'string' }, contentType: { type: 'string' }, size: { type: 'integer' }, contentId: { type: ['string', 'null'] }, disposition: { type: ['string', 'null'] } } } },
          },
        }],
      },
      SessionSummary: { type: 'object', properties: { id: { type: 'string' }, startedAt: { type: 'string' }, endedAt: { type: 'string' }, end: { type: 'string' }, connection: { type: 'object' }, messageIds: { type: 'array', items: { type: 'string' } }, truncated: { type: 'boolean' },
        helo: { type: ['string', 'null'], description: 'The name in the first HELO/EHLO; null when none' },
        mailFrom: { type: ['string', 'null'], description: "The first MAIL FROM's address ('' for <>); null when none" },
        rcptTo: { type: 'array', items: { type: 'string' }, description: 'The RCPT TO addresses in the order sent, each once, accepted or not' } } },
      FaultRule: {
        type: 'object', required: ['on'], additionalProperties: false,
        properties: {
          on: { enum: ['connect', 'helo', 'mail', 'rcpt', 'data', 'data-end', 'auth', 'starttls'] },
          from: { type: 'string', description: 'Glob (* and ?), case-insensitive' }, to: { type: 'string', description: 'Glob; at data and data-end any recipient' },
          helo: { type: 'string', description: 'Glob' }, client: { type: 'string', description: 'Address or CIDR block' }, user: { type: 'string', description: 'The AUTH user' },
          every: { type: 'integer', minimum: 1 }, first: { type: 'integer', minimum: 1 }, after: { type: 'integer', minimum: 0 },
          probability: { type: 'number', minimum: 0, maximum: 1 },
          rate: { type: 'object', required: ['max', 'per'], properties: { max: { type: 'integer', minimum: 0 }, per: { type: 'string', examples: ['1m'] }, key: { enum: ['client', 'from', 'to', 'all'], default: 'client' } } },
          greylist: { type: 'object', required: ['for'], properties: { attempts: { type: 'integer', minimum: 1, default: 1 }, for: { type: 'string', examples: ['5m'] } } },
          reply: { type: 'string', examples: ['451 4.3.0 Try again later'], description: 'A 4xx or 5xx reply line' },
          delay: { type: 'string', examples: ['1500ms', '2s'] }, disconnect: { type: 'boolean' },
        },
      },
      FaultDocument: { type: 'object', required: ['rules'], additionalProperties: false, properties: { seed: { type: 'integer', default: 0 }, rules: { type: 'array', items: ref('FaultRule') } } },
      FaultView: {
        type: 'object', required: ['seed', 'rules'],
        properties: { seed: { type: 'integer' }, rules: { type: 'array', items: { allOf: [ref('FaultRule'), { type: 'object', properties: { matched: { type: 'integer' }, fired: { type: 'integer' } } }] } } },
      },
      ServerInfo: {
        type: 'object', required: ['version', 'smtp', 'http', 'imap', 'pop3'],
        properties: {
          version: { type: 'string' },
          smtp: { oneOf: [{ type: 'null' }, { type: 'object', required: ['host', 'port', 'dialect', 'starttls', 'auth'], properties: {
            host: { type: 'string' }, port: { type: 'integer' }, dialect: { enum: ['simplified', 'smtp'], description: 'simplified: one recipient per message, no EHLO' },
            starttls: { type: 'boolean' }, auth: { type: 'boolean' },
          } }] },
          http: { oneOf: [{ type: 'null' }, { type: 'object', required: ['host', 'port', 'tls'], properties: { host: { type: 'string' }, port: { type: 'integer' }, tls: { type: 'boolean' } } }] },
          imap: { type: 'null', description: 'Not served yet' }, pop3: { type: 'null', description: 'Not served yet' },
        },
      },
      SessionDetail: { allOf: [ref('SessionSummary'), { type: 'object', properties: { transcript: { type: 'array', items: { type: 'object' } } } }] },
    },
  },
} as const;
