/**
 * The package's main entry, `import { startMailwire, MailwireClient } from 'mailwire'`: what a test suite needs to
 * catch the mail its application sends and look at it. The SMTP client library is `mailwire/client`.
 */
export { startMailwire, type Mailwire, type StartMailwireOptions } from './testing/start.js';
export {
  MailwireApiError, MailwireClient, MailwireTimeoutError, type ClientAuth, type Inbox, type MailwireClientOptions,
} from './api-client/client.js';
export type { CaughtMessage, MessageFilter, WaitForMessage, WaitOptions } from './api-client/message.js';
export type { AttachmentInfo, ConnectionInfo, Mailbox, MessageDetail, MessageSummary } from './store/index.js';
export { MailwireError } from './errors.js';
export type { FaultView } from './faults/controller.js';
