/**
 * What a mail-client session (IMAP, POP3) may see once logged in, and how a login is decided: the one value the
 * protocol shells carry from the login to every read. Login = an inbox (README, "Reading caught mail with a mail
 * client"): an inbox address sees that inbox; a configured user (--http-auth-file, or the SMTP --auth users under
 * --dialect smtp) sees all mail. Workspaces (#26) add their own kind here: a workspace's SMTP user sees that
 * workspace's mail; every reader of MailboxAccess switches over `kind`, so a new kind fails to compile until served.
 */
export type MailboxAccess =
  /** INBOX is exactly this inbox (`/api/v1/inboxes/ADDRESS/messages`). */
  | Readonly<{ kind: 'inbox'; address: string }>
  /** INBOX is all mail (a configured user). */
  | Readonly<{ kind: 'all'; user: string }>;

/** Why a login was refused: a wrong user or password, or refused unchecked (this address failed too often, or the password checks are busy). */
export type LoginRefusal = Readonly<{ kind: 'wrong' | 'throttled'; reason: string }>;

export type LoginOutcome = Readonly<{ ok: true; access: MailboxAccess }> | Readonly<{ ok: false; refusal: LoginRefusal }>;

/** Decides one login: user name and password as the client sent them (UTF-8), from the client's address. */
export type MailLogin = (user: string, password: string, clientAddress: string, protocol: 'imap' | 'pop3') => Promise<LoginOutcome>;

/** What the session is told it sees, after "logged in: ". */
export function describeAccess(a: MailboxAccess): string {
  switch (a.kind) {
    case 'inbox': return `INBOX is ${a.address}'s inbox`;
    case 'all': return `INBOX is all mail (${a.user} is a configured user)`;
  }
}
