/**
 * The IMAP commands served and their properties, as data (Dovecot's imap-commands.c table): the states a command is
 * allowed in. The shell's dispatcher reads this before it runs a handler; nothing else lists the commands.
 */
export type ImapState = 'not-authenticated' | 'authenticated' | 'selected';

const ANY = ['not-authenticated', 'authenticated', 'selected'] as const;
const AUTHED = ['authenticated', 'selected'] as const;
const SELECTED = ['selected'] as const;

export const IMAP_COMMANDS = {
  CAPABILITY: { states: ANY }, NOOP: { states: ANY }, LOGOUT: { states: ANY }, ID: { states: ANY },
  STARTTLS: { states: ['not-authenticated'] }, LOGIN: { states: ['not-authenticated'] }, AUTHENTICATE: { states: ['not-authenticated'] },
  ENABLE: { states: AUTHED }, NAMESPACE: { states: AUTHED }, LIST: { states: AUTHED }, LSUB: { states: AUTHED }, STATUS: { states: AUTHED },
  SELECT: { states: AUTHED }, EXAMINE: { states: AUTHED }, CREATE: { states: AUTHED }, DELETE: { states: AUTHED }, RENAME: { states: AUTHED },
  SUBSCRIBE: { states: AUTHED }, UNSUBSCRIBE: { states: AUTHED }, APPEND: { states: AUTHED }, IDLE: { states: AUTHED },
  CHECK: { states: SELECTED }, CLOSE: { states: SELECTED }, UNSELECT: { states: SELECTED }, EXPUNGE: { states: SELECTED },
  SEARCH: { states: SELECTED }, FETCH: { states: SELECTED }, STORE: { states: SELECTED }, COPY: { states: SELECTED }, MOVE: { states: SELECTED },
  'UID SEARCH': { states: SELECTED }, 'UID FETCH': { states: SELECTED }, 'UID STORE': { states: SELECTED }, 'UID EXPUNGE': { states: SELECTED },
  'UID COPY': { states: SELECTED }, 'UID MOVE': { states: SELECTED },
} as const satisfies Record<string, { states: readonly ImapState[] }>;

export type ImapCommandName = keyof typeof IMAP_COMMANDS;

export const isImapCommand = (name: string): name is ImapCommandName => Object.hasOwn(IMAP_COMMANDS, name);

export const allowedIn = (name: ImapCommandName, state: ImapState): boolean =>
  (IMAP_COMMANDS[name].states as readonly ImapState[]).includes(state);
