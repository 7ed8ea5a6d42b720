import { Option, type Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_HTTP_PORT, DEFAULT_PORT } from '../config.js';
import { simplifiedDialect } from '../protocol/dialects/simplified.js';
import { DEFAULT_LIMITS, resolveLimits } from '../protocol/limits.js';
import { createConsoleDisplay, quietDisplay } from '../server/display.js';
import { hostPort } from '../server/address.js';
import { startService } from '../service.js';
import { DEFAULT_DATA_DIR, DEFAULT_MAX_MESSAGES } from '../store/open.js';
import type { StoreKind } from '../store/types.js';
import { parseByteSize, parseCount, parseDuration, parsePort, parsePositiveInt } from './parse.js';

type ServerFlags = {
  host: string;
  port: number;
  hostname?: string;
  quiet?: boolean;
  maxMessageSize: number;
  maxClients: number;
  idleTimeout: number;
  shutdownGrace: number;
  store: StoreKind;
  dataDir: string;
  maxMessages: number;
  maxAge: number;
  http: boolean;
  httpHost: string;
  httpPort: number;
};

export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('run the SMTP server (the simplified dialect of the user\'s text)')
    .option('--host <address>', 'address to listen on (0.0.0.0 or :: for all)', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on; 0 picks a free one and prints it', parsePort, DEFAULT_PORT)
    .option('--hostname <name>', 'name to use in the 220, 250 and 221 replies instead of the IP address')
    .option('--quiet', 'do not display the conversation (for benchmarks and services)')
    .addOption(new Option('--max-message-size <bytes>', 'largest message accepted; larger ones get 552').argParser(parseByteSize).default(DEFAULT_LIMITS.maxMessageBytes, '25MiB'))
    .addOption(new Option('--max-clients <n>', 'connections served at once; more get 421').argParser(parsePositiveInt).default(DEFAULT_LIMITS.maxClients))
    .addOption(new Option('--idle-timeout <duration>', 'close a session silent this long (RFC 5321 §4.5.3.2.7)').argParser(parseDuration).default(DEFAULT_LIMITS.idleTimeoutMs, '5m'))
    .addOption(new Option('--shutdown-grace <duration>', 'on SIGINT/SIGTERM, how long a message in progress may take to finish').argParser(parseDuration).default(10_000, '10s'))
    .addOption(new Option('--store <kind>', 'where mail is kept: sqlite (durable, in --data-dir), memory, or none (discard, for benchmarks)').choices(['sqlite', 'memory', 'none']).default('sqlite'))
    .option('--data-dir <dir>', 'directory of the sqlite store', DEFAULT_DATA_DIR)
    .addOption(new Option('--max-messages <n>', 'keep at most this many messages, oldest pruned first; 0 = unlimited').argParser(parseCount).default(DEFAULT_MAX_MESSAGES))
    .addOption(new Option('--max-age <duration>', 'prune messages older than this, e.g. 7d; 0 = keep forever').argParser(parseDuration).default(0, '0 (forever)'))
    .option('--http-host <address>', 'address of the HTTP API', DEFAULT_HOST)
    .addOption(new Option('--http-port <port>', 'port of the HTTP API; 0 picks a free one').argParser(parsePort).default(DEFAULT_HTTP_PORT))
    .option('--no-http', 'no HTTP API')
    .action(async (flags: ServerFlags) => {
      const write = (line: string): void => void process.stdout.write(`${line}\n`);
      const service = await startService({
        smtp: {
          host: flags.host,
          port: flags.port,
          ...(flags.hostname === undefined ? {} : { hostname: flags.hostname }),
          dialect: simplifiedDialect,
          limits: resolveLimits({ maxMessageBytes: flags.maxMessageSize, maxClients: flags.maxClients, idleTimeoutMs: flags.idleTimeout }),
          display: flags.quiet === true ? quietDisplay : createConsoleDisplay(write),
        },
        store: { kind: flags.store, dataDir: flags.dataDir, maxMessages: flags.maxMessages, maxAgeMs: flags.maxAge },
        http: flags.http && flags.store !== 'none' ? { host: flags.httpHost, port: flags.httpPort } : null,
      });
      const server = service.smtp;
      write(`mailwire: simplified SMTP server listening on ${hostPort(server.host, server.port)}`);
      write(`mailwire: store ${describeStore(flags)}`);
      if (service.http) {
        write(`mailwire: web UI on http://${hostPort(flags.httpHost, service.http.port)}/`);
        write(`mailwire: HTTP API on http://${hostPort(flags.httpHost, service.http.port)}/api/v1/messages`);
      }
      else if (service.httpError) write(`mailwire: warning: no HTTP API, ${service.httpError.message}; SMTP goes on`);

      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          write(`mailwire: ${signal} again, exiting now`);
          process.exit(1);
        }
        stopping = true;
        write(`mailwire: ${signal} received, shutting down`);
        void service.close(flags.shutdownGrace).then(() => {
          write('mailwire: stopped');
          process.exit(0);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}

/** The limits in force, said at start so that nobody is surprised when old mail goes. */
function describeStore(flags: ServerFlags): string {
  if (flags.store === 'none') return 'none: messages are acknowledged and discarded';
  const where = flags.store === 'sqlite' ? `sqlite in ${flags.dataDir} (durable: 250 only once on disk)` : 'memory (lost at exit)';
  const count = flags.maxMessages === 0 ? 'no message limit' : `keeping the newest ${flags.maxMessages} messages`;
  const age = flags.maxAge === 0 ? 'no age limit' : `pruning after ${flags.maxAge / 1000}s`;
  return `${where}, ${count}, ${age}`;
}
