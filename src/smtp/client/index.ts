/** The client library's public surface: what `send`, the interactive client, the load generator and release use. */
export {
  classifyFailure, Recorder, relayMessage, sendOnce, SmtpClient,
  type AuthOptions, type ClientMode, type ClientOptions, type FailureKind, type Mail, type MailResult, type RelayOptions,
  type SessionOutcome, type Timing, type TlsMode, type TraceEvent,
} from './client.js';
export { SmtpConnection, type ConnectOptions, type ConnectTimings, type Exchange, type LookupFunction, type TlsInfo, type TlsOptions } from './connection.js';
export { PreparedMessage } from './prepared.js';
export { composeMessage, composeSimpleMessage, type MailSpec, type SimpleMail } from './compose.js';
export { percentile, summarize, summarizePhases, type Summary } from './stats.js';
export { MailwireError, SmtpCapabilityError, SmtpConnectionError, SmtpReplyError, SmtpTlsError } from '../../errors.js';
export type { Capabilities, PipeliningPolicy, AuthMechanism } from '../core/client-session.js';
