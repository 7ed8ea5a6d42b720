import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import {
  DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_IMAP_PORT, DEFAULT_POP3_PORT, DEFAULT_MAX_AGE_MS, DEFAULT_MAX_MESSAGES, DEFAULT_PORT, DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from '../config.js';
import { simplifiedDialect } from '../smtp/core/dialects/simplified.js';
import { smtpDialect } from '../smtp/core/dialects/smtp.js';
import { DEFAULT_LIMITS, resolveLimits } from '../smtp/core/limits.js';
import { createAuthenticator, parseCredential, parseCredentialFile, type Credential } from '../smtp/server/auth.js';
import { createConsoleDisplay, createSummaryDisplay, createVerboseDisplay, quietDisplay, type Display } from '../smtp/server/display.js';
import { createJsonDisplay } from '../smtp/server/json-display.js';
import { hostPort } from '../net/peer-address.js';
import { PROXY_HEADER_TIMEOUT_MS } from '../net/proxy-protocol.js';
import { selfSignedPem, type PemPair } from '../net/tls.js';
import { startService, type HttpConfig, type ServiceConfig } from '../service.js';
import { createPasswordCheck, parseCredentialFile as parseLoginFile, type PasswordCheck } from '../credentials.js';
import { allowedHosts, exposureProblem } from '../web/guard.js';
import { LoginLimiter } from '../net/login-limiter.js';
import { readerExposureProblem, type ReadersConfig } from '../mailbox/listeners.js';
import { isClusterWorker, runClusterWorker, startClusterPrimary } from '../cluster.js';
import type { TlsMode } from '../smtp/client/index.js';
import { parseServerAddress } from '../net/host-port.js';
import type { AddressList } from '../net/ip-address.js';
import type { StoreKind } from '../store/index.js';
import { envNameOf, withEnvironment } from './env-options.js';
import { parseByteSize, parseCount, parseDuration, parsePort, parsePositiveInt, parseTrustedProxies } from './parse.js';
import { parseFaultDocument } from '../faults/document.js';
import { WorkspaceDocumentError, parseWorkspacesDocument, type WorkspacesDocument } from '../workspaces/document.js';
import { setLogFormat } from '../log.js';
import { dialectLine, explainStartError, faultLines, nearMissWarnings, securityLine, simplifiedRefusal } from './server-start.js';

type ServerFlags = {
  host: string;
  port: number;
  hostname?: string;
  dialect: 'simplified' | 'smtp';
  quiet?: boolean;
  verbose?: boolean;
  logFormat: 'text' | 'json';
  maxMessageSize: number;
  maxConnections: number;
  maxClients?: number;
  maxClientsPerIp?: number;
  maxSessionTime: number;
  maxJunkCommands: number;
  spoolMemory: number;
  spoolDisk: number;
  maxRecipients: number;
  maxCommandLength: number;
  maxLineLength: number;
  maxErrors: number;
  idleTimeout: number;
  dataTimeout: number;
  shutdownGrace: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
  tlsPort?: number;
  auth: string[];
  authFile?: string;
  authInsecure?: boolean;
  store: StoreKind;
  dataDir: string;
  databaseUrl?: string;
  maxMessages: number;
  maxMessagesPerInbox: number;
  maxAge: number;
  storeTimeout: number;
  segmentSize: number;
  /** Hidden, for tests: the indexer stays idle, so messages are durable but not searchable until the next start. */
  testPauseIndexer?: boolean;
  http: boolean;
  httpHost: string;
  httpPort: number;
  // HTTP access (issue 13): who may reach the API and UI, and how
  httpAllowedHosts: string[];
  httpAuthFile?: string;
  httpTlsCert?: string;
  httpTlsKey?: string;
  httpTlsSelfSigned?: boolean;
  httpInsecure?: boolean;
  mailpitApiPort?: number;
  mailhogApiPort?: number;
  relay?: string;
  relayTls: TlsMode;
  relayTlsInsecure?: boolean;
  relayAuth?: string;
  // Message checks (issue 29)
  checksAllowHosts: string[];
  spamd?: string;
  rspamd?: string;
  chromium?: string;
  // Webhooks (issue 30)
  webhook: string[];
  webhookSecret?: string;
  webhookAllowHosts: string[];
  workers: number;
  pop3: boolean;
  pop3Host: string;
  pop3Port: number;
  imap: boolean;
  imapHost: string;
  imapPort: number;
  imapTlsPort?: number;
  pop3TlsPort?: number;
  imapInsecure?: boolean;
  faults?: string;
  workspaces?: string;
  proxyProtocol?: boolean;
  trustedProxies?: AddressList;
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function displayFor(flags: ServerFlags, write: (line: string) => void): Display {
  if (flags.quiet === true) return quietDisplay;
  if (flags.logFormat === 'json') return createJsonDisplay(flags.verbose === true);
  // The simplified dialect shows every line (its text asks for it); the smtp dialect one line per session.
  if (flags.dialect === 'simplified') return createConsoleDisplay(write);
  return flags.verbose === true ? createVerboseDisplay(write) : createSummaryDisplay(write);
}

async function pemFor(flags: ServerFlags): Promise<PemPair | undefined> {
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new Error('--tls-cert and --tls-key go together');
    return { cert: readFileSync(flags.tlsCert, 'utf8'), key: readFileSync(flags.tlsKey, 'utf8') };
  }
  if (flags.tlsSelfSigned === true) return selfSignedPem([...new Set([flags.hostname ?? 'localhost', 'localhost', '127.0.0.1', '::1'])]);
  return undefined;
}

function credentialsFor(flags: ServerFlags): Credential[] {
  const out: Credential[] = [];
  for (const text of flags.auth) {
    const c = parseCredential(text);
    if (c === null) throw new Error(`--auth ${JSON.stringify(text)}: expected user:password`);
    out.push(c);
  }
  if (flags.authFile !== undefined) out.push(...parseCredentialFile(readFileSync(flags.authFile, 'utf8')));
  return out;
}

export function registerServerCommand(program: Command): void {
  withEnvironment(program.command('server'))
    .description('run the SMTP server with its HTTP API and web UI: the simplified dialect (one recipient per message, the default) or standards SMTP (--dialect smtp, for applications)')
    .option('--host <address>', 'address to listen on (0.0.0.0 or :: for all)', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on; 0 picks a free one and prints it', parsePort, DEFAULT_PORT)
    .option('--hostname <name>', 'name to use in replies instead of the IP address')
    .addOption(new Option('--dialect <name>', 'simplified: HELO, one recipient per message, no extensions; smtp: RFC 5321 with ESMTP, what applications speak').choices(['simplified', 'smtp']).default('simplified'))
    .option('--quiet', 'display nothing')
    .option('--verbose', 'smtp dialect: display the whole conversation, not one line per session')
    .addOption(new Option('--log-format <format>', 'text for people, json (pino) for log collectors').choices(['text', 'json']).default('text'))
    .addOption(new Option('--max-message-size <bytes>', 'largest message accepted; larger ones get 552').argParser(parseByteSize).default(DEFAULT_LIMITS.maxMessageBytes, '25MiB'))
    .addOption(new Option('--max-connections <n>', 'connections served at once; more get 421').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxClients))
    .addOption(new Option('--max-clients <n>', 'the same as --max-connections').argParser(parsePositiveInt))
    .addOption(new Option('--max-clients-per-ip <n>', `connections at once from one address, loopback included; more get 421 (0: no limit) (default: ${DEFAULT_LIMITS.maxClientsPerRemoteIp}, loopback unlimited)`).argParser(parseCount))
    .addOption(new Option('--max-session-time <duration>', 'the longest a session may last, whatever it does; then 421 (0: no limit)').argParser(parseDuration).default(DEFAULT_LIMITS.maxSessionMs, '30m'))
    .addOption(new Option('--max-junk-commands <n>', 'smtp: NOOP, RSET, VRFY, EXPN, HELP since the last message stored; one more gets 421 (0: no limit)').argParser(parseCount).default(DEFAULT_LIMITS.maxJunkCommands))
    .addOption(new Option('--spool-memory <bytes>', 'unfinished messages kept in memory, all connections together; past it (or 256KiB for one) they go to temporary files').argParser(parseByteSize).default(DEFAULT_LIMITS.spoolMemoryBytes, '64MiB'))
    .addOption(new Option('--spool-disk <bytes>', 'unfinished messages in temporary files, all together; past it a message gets 452 4.3.1').argParser(parseByteSize).default(DEFAULT_LIMITS.spoolDiskBytes, '1GiB'))
    .addOption(new Option('--max-recipients <n>', 'smtp: recipients per mail; more get 452').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxRecipients))
    .addOption(new Option('--max-command-length <bytes>', 'a command line with its CRLF; longer get 500 (RFC 5321 §4.5.3.1.4)').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxCommandBytes))
    .addOption(new Option('--max-line-length <bytes>', 'a message text line without its CRLF (RFC 5321 §4.5.3.1.6)').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxLineBytes))
    .addOption(new Option('--max-errors <n>', 'smtp: bad commands before 421 and disconnect').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxErrors))
    .addOption(new Option('--idle-timeout <duration>', 'close a session silent this long (RFC 5321 §4.5.3.2.7)').argParser(parseDuration).default(DEFAULT_LIMITS.idleTimeoutMs, '5m'))
    .addOption(new Option('--data-timeout <duration>', 'bound on the whole DATA phase of one message').argParser(parseDuration).default(DEFAULT_LIMITS.dataTimeoutMs, '10m'))
    .addOption(new Option('--shutdown-grace <duration>', 'on SIGINT/SIGTERM, how long a message in progress may take to finish').argParser(parseDuration).default(DEFAULT_SHUTDOWN_GRACE_MS, `${DEFAULT_SHUTDOWN_GRACE_MS / 1000}s`))
    .option('--tls-cert <file>', 'smtp: PEM certificate (chain) for STARTTLS and --tls-port')
    .option('--tls-key <file>', 'smtp: PEM private key for --tls-cert')
    .option('--tls-self-signed', 'smtp: make a self-signed certificate at start')
    .option('--tls-port <port>', 'smtp: also listen for implicit TLS (port-465 style) on this port', parsePort)
    .option('--auth <user:password>', 'smtp: accept this login for AUTH PLAIN/LOGIN (repeatable)', collect, [] as string[])
    .option('--auth-file <file>', 'smtp: logins for AUTH, one user:password a line')
    .option('--auth-insecure', 'smtp: offer AUTH without TLS')
    .addOption(new Option('--store <kind>', 'where mail is kept: sqlite (durable, in --data-dir), postgres (durable, shared by several instances: --database-url), memory, or none (discard, for benchmarks)').choices(['sqlite', 'postgres', 'memory', 'none']).default('sqlite'))
    .option('--data-dir <dir>', 'directory of the sqlite store', DEFAULT_DATA_DIR)
    .option('--database-url <url>', 'postgres store: postgres://user@host:port/database, its password never shown (best given as MAILWIRE_DATABASE_URL, out of sight of ps)')
    .addOption(new Option('--max-messages <n>', 'keep at most this many messages, oldest pruned first; 0 = unlimited').argParser(parseCount).default(DEFAULT_MAX_MESSAGES))
    .addOption(new Option('--max-messages-per-inbox <n>', 'an inbox (envelope recipient) keeps at most this many messages, its oldest leaving it (deleted once in no inbox); 0 = unlimited').argParser(parseCount).default(0))
    .addOption(new Option('--max-age <duration>', 'prune messages older than this, e.g. 7d; 0 = keep forever').argParser(parseDuration).default(DEFAULT_MAX_AGE_MS, '0 (forever)'))
    .addOption(new Option('--store-timeout <duration>', 'longest a message waits for the store; past it the client gets 451 and may try again').argParser(parseDuration).default(DEFAULT_STORE_TIMEOUT_MS, '30s'))
    .addOption(new Option('--segment-size <size>', 'sqlite store: start a new segment of the message log past this size, e.g. 64MiB').argParser(parseByteSize).default(64 * 1024 * 1024, '64MiB'))
    .addOption(new Option('--test-pause-indexer').hideHelp())
    .option('--http-host <address>', 'address of the HTTP API', DEFAULT_HOST)
    .addOption(new Option('--http-port <port>', 'port of the HTTP API; 0 picks a free one').argParser(parsePort).default(DEFAULT_HTTP_PORT))
    .option('--no-http', 'no HTTP API')
    .option('--http-allowed-hosts <names>', 'Host names the HTTP API answers besides loopback and its own address, comma-separated (DNS rebinding protection)', splitList, [] as string[])
    .option('--http-auth-file <file>', 'HTTP Basic logins for the API and UI: htpasswd lines user:$2y$… (bcrypt, as htpasswd -B writes)')
    .option('--http-tls-cert <file>', 'serve the API and UI over HTTPS with this PEM certificate (chain)')
    .option('--http-tls-key <file>', 'PEM private key for --http-tls-cert')
    .option('--http-tls-self-signed', 'serve the API and UI over HTTPS with a self-signed certificate made at start')
    .option('--http-insecure', 'allow the HTTP API on a non-loopback address without --http-auth-file, or with it over plain HTTP (the network is trusted)')
    .option('--pop3-host <address>', 'address of the POP3 server for mail clients (login: an inbox address)', DEFAULT_HOST)
    .addOption(new Option('--pop3-port <port>', 'port of the POP3 server; 0 picks a free one').argParser(parsePort).default(DEFAULT_POP3_PORT))
    .option('--no-pop3', 'no POP3 server')
    .option('--imap-host <address>', 'address of the IMAP server for mail clients (login: an inbox address)', DEFAULT_HOST)
    .addOption(new Option('--imap-port <port>', 'port of the IMAP server; 0 picks a free one').argParser(parsePort).default(DEFAULT_IMAP_PORT))
    .option('--no-imap', 'no IMAP server')
    .option('--imap-tls-port <port>', 'smtp: also serve IMAP with implicit TLS (port-993 style) on this port', parsePort)
    .option('--pop3-tls-port <port>', 'smtp: also serve POP3 with implicit TLS (port-995 style) on this port', parsePort)
    .option('--imap-insecure', 'allow IMAP and POP3 on a non-loopback address without logins (anyone who reaches them reads all mail)')
    .addOption(new Option('--workers <n>', 'SMTP worker processes (node:cluster) sharing the port, for more than one core; the store and HTTP API stay in one process').argParser(parsePositiveInt).default(1))
    .option('--faults <file>', 'fault injection: a JSON document of rules (see README, "Fault injection"); changed at run time through /api/v1/faults')
    .option('--workspaces <file>', 'workspaces: a JSON document of workspaces (SMTP users, API tokens, recipient globs, retention) created or updated at start; every API request then needs a token (see README, "Workspaces")')
    .option('--proxy-protocol', 'read a PROXY protocol header (v1 or v2, as HAProxy\'s send-proxy-v2) from --trusted-proxies before the greeting; the client it names is the client')
    .addOption(new Option('--trusted-proxies <list>', 'load balancers, as addresses or CIDR ranges separated by commas: they send the PROXY header (SMTP) and X-Forwarded-For (HTTP)').argParser(parseTrustedProxies))
    .addOption(new Option('--mailpit-api-port <port>', 'also serve Mailpit\'s API alone at the root of this port (it is always under /mailpit)').argParser(parsePort))
    .addOption(new Option('--mailhog-api-port <port>', 'also serve MailHog\'s API alone at the root of this port (it is always under /mailhog)').argParser(parsePort))
    .option('--relay <host[:port]>', 'where the API\'s release sends stored messages (port 25 by default); without it, release answers 409')
    .addOption(new Option('--relay-tls <mode>', 'TLS to the relay').choices(['none', 'starttls', 'implicit']).default('none'))
    .option('--relay-tls-insecure', 'do not verify the relay\'s certificate')
    .option('--relay-auth <user:pass>', 'AUTH to the relay, never shown (best given as MAILWIRE_RELAY_AUTH, out of sight of ps)')
    .option('--checks-allow-hosts <list>', 'host names, addresses or CIDR ranges the link check and screenshots may reach although private or loopback, comma-separated', splitList, [] as string[])
    .option('--spamd <host:port|socket>', 'SpamAssassin\'s spamd for the spam check (POST /api/v1/messages/ID/checks/spam)')
    .option('--rspamd <url>', 'rspamd\'s HTTP interface for the spam check, e.g. http://127.0.0.1:11333')
    .option('--chromium <path>', 'Chromium for screenshots (default: /usr/bin/chromium or another usual place)')
    .option('--webhook <url>', 'POST every event (message-stored, message-deleted, session-ended, relay-finished) to this URL, signed per Standard Webhooks (repeatable; more through /api/v1/webhooks)', collect, [] as string[])
    .option('--webhook-secret <whsec_…>', 'the signing secret of the --webhook URLs, whsec_<base64>; without it one is made at start and shown')
    .option('--webhook-allow-hosts <list>', 'host names, addresses or CIDR ranges webhooks may reach although private (loopback is always allowed), comma-separated', splitList, [] as string[])
    .hook('preAction', (cmd) => {
      const known = (cmd.options as readonly Option[]).map(envNameOf).filter((n): n is string => n !== null);
      for (const line of nearMissWarnings(process.env, known, 'server')) process.stderr.write(`${line}\n`);
    })
    .action(async (flags: ServerFlags, cmd: Command) => {
      setLogFormat(flags.logFormat); // before any store thread or worker starts, so that they log alike
      const write = (line: string): void => void process.stdout.write(`${line}\n`);
      const refusal = simplifiedRefusal(flags.dialect, flags, (key) => cmd.getOptionValueSource(key));
      if (refusal !== null) throw new Error(refusal);
      const workspaces = workspacesFor(flags);
      if (workspaces.workspaces !== undefined && flags.workers > 1) {
        throw new Error('mailwire: --workspaces needs --workers 1: the workers\' mail is not routed to workspaces yet');
      }
      if (flags.dialect !== 'smtp' && workspaces.workspaces?.workspaces.some((w) => (w.smtp ?? []).length > 0) === true) {
        throw new Error(`mailwire: --workspaces ${flags.workspaces ?? ''} has workspaces with SMTP users, which need --dialect smtp: the simplified dialect has no AUTH`);
      }
      const smtp = flags.dialect === 'smtp';
      const pem = smtp ? await pemFor(flags) : undefined;
      if (flags.tlsPort !== undefined && pem === undefined) throw new Error('--tls-port needs --tls-cert/--tls-key or --tls-self-signed');
      const credentials = smtp ? credentialsFor(flags) : [];
      const display = displayFor(flags, write);
      if (flags.proxyProtocol === true && flags.trustedProxies === undefined) throw new Error('--proxy-protocol needs --trusted-proxies: the addresses of the load balancers that send the header');
      const trustedProxies = flags.trustedProxies === undefined ? {} : { trustedProxies: flags.trustedProxies };
      // One count of failed logins per client for SMTP AUTH and HTTP Basic alike.
      const logins = new LoginLimiter();
      const config: ServiceConfig = {
        smtp: {
          host: flags.host,
          port: flags.port,
          ...(flags.hostname === undefined ? {} : { hostname: flags.hostname }),
          dialect: smtp ? smtpDialect : simplifiedDialect,
          limits: resolveLimits({
            maxMessageBytes: flags.maxMessageSize,
            maxClients: flags.maxClients ?? flags.maxConnections,
            // Given: for every address; not given: 20 for any but loopback (DEFAULT_LIMITS.maxClientsPerRemoteIp).
            ...(flags.maxClientsPerIp === undefined ? {} : { maxClientsPerIp: flags.maxClientsPerIp, maxClientsPerRemoteIp: flags.maxClientsPerIp }),
            maxSessionMs: flags.maxSessionTime,
            maxJunkCommands: flags.maxJunkCommands,
            spoolMemoryBytes: flags.spoolMemory,
            spoolDiskBytes: flags.spoolDisk,
            maxRecipients: flags.maxRecipients,
            maxCommandBytes: flags.maxCommandLength,
            maxLineBytes: flags.maxLineLength,
            maxErrors: flags.maxErrors,
            idleTimeoutMs: flags.idleTimeout,
            dataTimeoutMs: flags.dataTimeout,
          }),
          display,
          // Large messages in progress: beside the sqlite store, else in the system's temporary directory.
          ...(flags.store === 'sqlite' ? { spoolDir: join(flags.dataDir, 'tmp') } : {}),
          ...(pem ? { tls: pem } : {}),
          ...(flags.tlsPort === undefined ? {} : { tlsPort: flags.tlsPort }),
          ...(credentials.length > 0 ? { auth: createAuthenticator(credentials, flags.authInsecure === true, logins) } : {}),
          ...(flags.proxyProtocol === true && flags.trustedProxies !== undefined ? { proxyProtocol: { trusted: flags.trustedProxies } } : {}),
        },
        store: {
          kind: flags.store, dataDir: flags.dataDir, maxMessages: flags.maxMessages, maxMessagesPerInbox: flags.maxMessagesPerInbox, maxAgeMs: flags.maxAge, storeTimeoutMs: flags.storeTimeout,
          segmentSize: flags.segmentSize,
          ...databaseUrlFor(flags),
          ...(flags.testPauseIndexer === true ? { testing: { pauseIndexer: true } } : {}),
        },
        // Workers serve SMTP only: the HTTP side (its certificate, its logins) lives in the primary.
        http: flags.http && flags.store !== 'none' && !isClusterWorker() ? { ...(await httpFor(flags)), ...trustedProxies, loginLimiter: logins } : null,
        ...relayFor(flags),
        ...faultsFor(flags),
        ...workspaces,
        checks: {
          allowHosts: flags.checksAllowHosts,
          ...(flags.spamd === undefined ? {} : { spamd: flags.spamd }),
          ...(flags.rspamd === undefined ? {} : { rspamd: flags.rspamd }),
          ...(flags.chromium === undefined ? {} : { chromium: flags.chromium }),
        },
        webhooks: {
          configured: flags.webhook, allowHosts: flags.webhookAllowHosts,
          ...(flags.webhookSecret === undefined ? {} : { secret: flags.webhookSecret }),
        },
        readers: readersFor(flags, pem, credentials, logins),
      };
      const readerProblem = readerExposureProblem(config.readers ?? {});
      if (readerProblem !== null) throw new Error(`mailwire: ${readerProblem}`);
      if (isClusterWorker()) return runClusterWorker(config, flags.workers);
      const startContext = { port: flags.port, ...(flags.tlsPort === undefined ? {} : { tlsPort: flags.tlsPort }), ...(flags.http ? { httpPort: flags.httpPort } : {}), ...(flags.store === 'sqlite' ? { dataDir: flags.dataDir } : {}) };
      const service = await (flags.workers > 1 ? startClusterPrimary(config, flags.workers) : startService(config)).catch((error: unknown) => {
        const explained = explainStartError(error, startContext);
        throw explained === null ? error : new Error(`mailwire: ${explained}`);
      });
      const server = service.smtp;
      const say = (line: string): void => (flags.quiet === true ? write(line) : display.info(line));
      say(`mailwire: ${smtp ? 'standards' : 'simplified'} SMTP server listening on ${hostPort(server.host, server.port)}` +
        (server.tlsPort === undefined ? '' : `, implicit TLS on ${hostPort(server.host, server.tlsPort)}`));
      say(dialectLine(flags.dialect));
      say(securityLine(pem !== undefined, credentials.length, flags.authInsecure === true));
      for (const line of faultLines(flags.faults, service.faults.view())) say(line);
      say(`mailwire: store ${describeStore(flags)}`);
      const recovered = 'recovered' in service.store ? service.store.recovered : undefined;
      if (recovered !== undefined && recovered.messages > 0) {
        say(`mailwire: indexed ${recovered.messages} messages left from the last run in ${(recovered.ms / 1000).toFixed(1)} s`);
      }
      if (flags.proxyProtocol === true) say(`mailwire: PROXY protocol from ${flags.trustedProxies?.text ?? ''} (header within ${PROXY_HEADER_TIMEOUT_MS / 1000}s)`);
      if (flags.workers > 1) say(`mailwire: ${flags.workers} SMTP worker processes; store and HTTP API in this one (pid ${process.pid})`);
      if (service.http && config.http) {
        const scheme = config.http.tls ? 'https' : 'http';
        say(`mailwire: web UI on ${scheme}://${hostPort(flags.httpHost, service.http.port)}/`);
        say(`mailwire: HTTP API on ${scheme}://${hostPort(flags.httpHost, service.http.port)}/api/v1/messages`);
        say(`mailwire: HTTP answers Host ${['localhost', '127.0.0.0/8', '[::1]', ...allowedHosts(flags.httpHost, flags.httpAllowedHosts)].join(', ')}` +
          `; ${config.http.users ? `HTTP Basic logins from ${flags.httpAuthFile ?? ''}` : 'no login'}`);
        if (flags.relay !== undefined) say(`mailwire: release sends to ${flags.relay} (TLS: ${flags.relayTls})`);
        if (flags.webhook.length > 0) {
          say(`mailwire: webhooks to ${flags.webhook.join(', ')}` + (flags.webhookSecret === undefined ? `, signed with ${service.webhookSecret ?? ''} (made at start; give --webhook-secret to keep one)` : ', signed with --webhook-secret'));
        }
        for (const [name, s] of Object.entries(service.compat ?? {})) say(`mailwire: ${name === 'mailpit' ? 'Mailpit' : 'MailHog'} API alone on ${scheme}://${hostPort(flags.httpHost, s.port)}/`);
        if (service.httpError) say(`mailwire: warning: ${service.httpError.message}`);
      } else if (service.httpError) say(`mailwire: warning: no HTTP API, ${explainStartError(service.httpError, startContext) ?? service.httpError.message}; SMTP goes on`);
      const { pop3, pop3Error, imap, imapError } = service.readers;
      const loginRule = (config.readers?.credentials?.length ?? 0) > 0
        ? 'login: a configured user sees all mail, an inbox address with a configured password its inbox'
        : 'user: an inbox address; any password';
      const implicitTls = (p: number | null): string => (p === null ? '' : `, implicit TLS on ${p}`);
      if (pop3) say(`mailwire: POP3 on ${hostPort(pop3.host, pop3.port)}${implicitTls(pop3.tlsPort)} (${loginRule})`);
      else if (pop3Error) say(`mailwire: warning: no POP3, ${pop3Error.message}; SMTP goes on`);
      if (imap) say(`mailwire: IMAP on ${hostPort(imap.host, imap.port)}${implicitTls(imap.tlsPort)} (${loginRule})`);
      else if (imapError) say(`mailwire: warning: no IMAP, ${imapError.message}; SMTP goes on`);

      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          say(`mailwire: ${signal} again, exiting now`);
          process.exit(1);
        }
        stopping = true;
        say(`mailwire: ${signal} received, shutting down`);
        void service.close(flags.shutdownGrace).then(() => {
          say('mailwire: stopped');
          process.exit(0);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}

const splitList = (value: string, previous: string[]): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];

/**
 * IMAP and POP3 from their flags: STARTTLS/STLS with the server's certificate, implicit-TLS ports, and the login
 * rule's users (src/mailbox/login.ts): --http-auth-file's, and under --dialect smtp the SMTP --auth/--auth-file ones.
 */
function readersFor(flags: ServerFlags, pem: PemPair | undefined, smtpCredentials: readonly Credential[], logins: LoginLimiter): ReadersConfig {
  if ((flags.imapTlsPort !== undefined || flags.pop3TlsPort !== undefined) && pem === undefined) {
    throw new Error('--imap-tls-port and --pop3-tls-port need --dialect smtp with --tls-cert/--tls-key or --tls-self-signed');
  }
  const httpCredentials = flags.httpAuthFile === undefined ? [] : parseLoginFile(readFileSync(flags.httpAuthFile, 'utf8'), { bcryptOnly: true });
  const tls = pem ? { tls: pem } : {};
  const on = flags.store !== 'none';
  return {
    pop3: flags.pop3 && on ? { host: flags.pop3Host, port: flags.pop3Port, ...tls, ...(flags.pop3TlsPort === undefined ? {} : { tlsPort: flags.pop3TlsPort }) } : null,
    imap: flags.imap && on ? { host: flags.imapHost, port: flags.imapPort, ...tls, ...(flags.imapTlsPort === undefined ? {} : { tlsPort: flags.imapTlsPort }) } : null,
    credentials: [...smtpCredentials, ...httpCredentials],
    loginLimiter: logins,
    insecure: flags.imapInsecure === true,
  };
}

/** The HTTP side from its flags; refuses (throws, so nothing starts) to expose the mail without a login. */
async function httpFor(flags: ServerFlags): Promise<HttpConfig> {
  const tlsGiven = flags.httpTlsCert !== undefined || flags.httpTlsKey !== undefined || flags.httpTlsSelfSigned === true;
  const problem = exposureProblem(flags.httpHost, flags.httpAuthFile !== undefined, flags.httpInsecure === true, tlsGiven);
  if (problem !== null) throw new Error(`mailwire: ${problem}`);
  let users: PasswordCheck | undefined;
  if (flags.httpAuthFile !== undefined) {
    const file = flags.httpAuthFile;
    let credentials;
    try {
      credentials = parseLoginFile(readFileSync(file, 'utf8'), { bcryptOnly: true });
    } catch (e) {
      throw new Error(`--http-auth-file ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (credentials.length === 0) throw new Error(`--http-auth-file ${file}: no logins in it`);
    users = createPasswordCheck(credentials);
  }
  let tls: PemPair | undefined;
  if (flags.httpTlsCert !== undefined || flags.httpTlsKey !== undefined) {
    if (flags.httpTlsCert === undefined || flags.httpTlsKey === undefined) throw new Error('--http-tls-cert and --http-tls-key go together');
    tls = { cert: readFileSync(flags.httpTlsCert, 'utf8'), key: readFileSync(flags.httpTlsKey, 'utf8') };
  } else if (flags.httpTlsSelfSigned === true) {
    tls = await selfSignedPem([...new Set(['localhost', '127.0.0.1', '::1', ...allowedHosts(flags.httpHost, flags.httpAllowedHosts)])]);
  }
  return {
    host: flags.httpHost, port: flags.httpPort, allowedHosts: flags.httpAllowedHosts,
    ...(users ? { users } : {}), ...(tls ? { tls } : {}),
    ...(flags.mailpitApiPort === undefined ? {} : { mailpitApiPort: flags.mailpitApiPort }),
    ...(flags.mailhogApiPort === undefined ? {} : { mailhogApiPort: flags.mailhogApiPort }),
  };
}

/** The limits in force, said at start so that nobody is surprised when old mail goes. */
function describeStore(flags: ServerFlags): string {
  if (flags.store === 'none') return 'none: messages are acknowledged and discarded';
  const where = flags.store === 'sqlite' ? `sqlite in ${flags.dataDir} (durable: 250 only once on disk, searchable just after)`
    : flags.store === 'postgres' ? `postgres at ${safeDatabaseUrl(databaseUrlFor(flags).databaseUrl ?? '')} (durable: 250 only once committed, searchable just after)`
    : 'memory (lost at exit)';
  const count = flags.maxMessages === 0 ? 'no message limit' : `keeping the newest ${flags.maxMessages} messages`;
  const perInbox = flags.maxMessagesPerInbox === 0 ? '' : `, ${flags.maxMessagesPerInbox} per inbox`;
  const age = flags.maxAge === 0 ? 'no age limit' : `pruning after ${flags.maxAge / 1000}s`;
  return `${where}, ${count}${perInbox}, ${age}`;
}

/** The postgres store's URL, from --database-url or MAILWIRE_DATABASE_URL; the store kind needs one. */
function databaseUrlFor(flags: ServerFlags): { databaseUrl?: string } {
  const url = flags.databaseUrl; // MAILWIRE_DATABASE_URL arrives here too (env-options.ts)
  if (flags.store !== 'postgres') return {};
  if (url === undefined || url === '') throw new Error('--store postgres needs --database-url postgres://… (or MAILWIRE_DATABASE_URL)');
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`--database-url must start with postgres:// or postgresql://, not ${JSON.stringify(safeDatabaseUrl(url))}`);
  return { databaseUrl: url };
}

/** The URL without its password, for the start-up line and errors. */
function safeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** The workspaces document of --workspaces, checked whole now: a bad one ends the start naming the field. */
function workspacesFor(flags: ServerFlags): { workspaces?: WorkspacesDocument } {
  if (flags.workspaces === undefined) return {};
  let text: string;
  try {
    text = readFileSync(flags.workspaces, 'utf8');
  } catch (e) {
    throw new Error(`--workspaces ${flags.workspaces}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return { workspaces: { ...parseWorkspacesDocument(text), authInsecure: flags.authInsecure === true } };
  } catch (e) {
    if (e instanceof WorkspaceDocumentError) throw new Error(`--workspaces ${flags.workspaces}: ${e.message}`);
    throw e;
  }
}

/** The fault document of --faults, checked now: a bad one ends the start with the field and the reason. */
function faultsFor(flags: ServerFlags): { faults?: unknown } {
  if (flags.faults === undefined) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(flags.faults, 'utf8'));
  } catch (e) {
    throw new Error(`--faults ${flags.faults}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const checked = parseFaultDocument(doc, flags.dialect);
  if (!checked.ok) throw new Error(`--faults ${flags.faults}: ${checked.error}`);
  return { faults: doc };
}

/** The relay for the API's release, from --relay and its options; the request itself never names a server. */
function relayFor(flags: ServerFlags): { relay?: ServiceConfig['relay'] } {
  if (flags.relay === undefined) return {};
  const server = parseServerAddress(flags.relay, 25); // throws a clear error for a malformed address
  const authText = flags.relayAuth;
  const colon = authText?.indexOf(':') ?? -1;
  if (authText !== undefined && colon <= 0) throw new Error('--relay-auth (or MAILWIRE_RELAY_AUTH) must be user:pass');
  return {
    relay: {
      server: { host: server.host, port: server.port },
      tls: flags.relayTls,
      ...(flags.relayTlsInsecure === true ? { tlsOptions: { insecure: true } } : {}),
      ...(authText === undefined ? {} : { auth: { user: authText.slice(0, colon), pass: authText.slice(colon + 1) } }),
    },
  };
}
