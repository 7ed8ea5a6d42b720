/**
 * The store's public interface: what the layers above it (web/, service.ts, cluster.ts, cli/) use. Everything else
 * under store/ (SQLite schema and worker, cursors, the query parser's insides, MIME parsing) is its own business.
 */
export type * from './types.js';
export { openStore, isMessageStore } from './open.js';
export { createDiscardSink } from './discard.js';
/** A malformed search query or cursor, named: the API's 400. */
export { StoreInputError } from './errors.js';
/** The store cannot take a message now (451 4.3.0), or has no room for it (452 4.3.1). */
export { StoreClosedError, StoreFullError, StoreUnavailableError, StoreWriteError } from './errors.js';
/** Does a newly indexed message match a waiting query (the API's wait), from its summary alone. */
export { matchSummary, type SummaryMatch } from './summary-match.js';
export type { OpenOptions } from './open.js';
/** Parses a search query, throwing StoreInputError when it is malformed (the API checks one before a long-poll). */
export { parseQuery } from './query.js';
/** Text of an HTML body, as the store indexes it (the API finds links and codes in it). */
export { htmlToText } from './parse.js';
/** Workspaces (issue 26): the model and registry, and the handle bound to one workspace (the wall between them). */
export {
  DEFAULT_WORKSPACE, isWorkspaceName, workspaceOf, sha256Hex, newToken, globMatcher, MemoryWorkspaceRegistry,
  type Workspace, type WorkspaceRegistry, type WorkspaceToken, type WorkspaceSmtpUser, type WorkspaceRetention,
} from './workspace.js';
export { scopeStore } from './workspace-scope.js';
