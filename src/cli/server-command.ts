import { Option, type Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT } from '../config.js';
import { simplifiedDialect } from '../protocol/dialects/simplified.js';
import { DEFAULT_LIMITS, resolveLimits } from '../protocol/limits.js';
import { createConsoleDisplay, quietDisplay } from '../server/display.js';
import { startServer } from '../server/server.js';
import { createDiscardSink } from '../store/discard.js';
import { parseByteSize, parseDuration, parsePort, parsePositiveInt } from './parse.js';

type ServerFlags = {
  host: string;
  port: number;
  hostname?: string;
  quiet?: boolean;
  maxMessageSize: number;
  maxClients: number;
  idleTimeout: number;
  shutdownGrace: number;
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
    .action(async (flags: ServerFlags) => {
      const write = (line: string): void => void process.stdout.write(`${line}\n`);
      const server = await startServer({
        host: flags.host,
        port: flags.port,
        ...(flags.hostname === undefined ? {} : { hostname: flags.hostname }),
        dialect: simplifiedDialect,
        limits: resolveLimits({ maxMessageBytes: flags.maxMessageSize, maxClients: flags.maxClients, idleTimeoutMs: flags.idleTimeout }),
        sink: createDiscardSink(),
        display: flags.quiet === true ? quietDisplay : createConsoleDisplay(write),
        recordSessions: false,
      });
      write(`mailwire: simplified SMTP server listening on ${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`);

      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          write(`mailwire: ${signal} again, exiting now`);
          process.exit(1);
        }
        stopping = true;
        write(`mailwire: ${signal} received, shutting down`);
        void server.close(flags.shutdownGrace).then(() => {
          write('mailwire: stopped');
          process.exit(0);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
