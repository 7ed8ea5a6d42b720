/**
 * The one log for what goes wrong outside a session (a store thread failing, a worker restarting, an API route
 * throwing). Text by default, as console.error prints it; after setLogFormat('json') (the CLI's --log-format json),
 * one pino JSON object a line, so that a log collector reads nothing else. Both go to stderr.
 *
 * The format is kept as worker_threads environment data: set once in the main thread, every worker thread started
 * after it (the store's writer, reader, indexer and parser) logs in the same format without being told.
 */
import { format } from 'node:util';
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';
import { pino, type Logger } from 'pino';

export type LogFormat = 'text' | 'json';
const FORMAT_KEY = 'mailwire:log-format';

/** For this thread and every worker thread started from now on. */
export function setLogFormat(logFormat: LogFormat): void {
  setEnvironmentData(FORMAT_KEY, logFormat);
}

let json: Logger | null = null;

function write(level: 'warn' | 'error', text: string, error: unknown): void {
  if (getEnvironmentData(FORMAT_KEY) === 'json') {
    json ??= pino({ base: { service: 'mailwire' } }, pino.destination({ dest: 2, sync: true }));
    const msg = text.endsWith(':') ? text.slice(0, -1) : text;
    if (error === undefined) json[level](msg);
    else json[level]({ err: error }, msg);
    return;
  }
  process.stderr.write(`${error === undefined ? format('%s', text) : format('%s', text, error)}\n`);
}

/** Something went wrong and was dealt with (a thread restarted, a retry scheduled). */
export const logWarning = (text: string, error?: unknown): void => write('warn', text, error);
/** Something failed that someone should look at; `error`, when given, is printed with its stack. */
export const logError = (text: string, error?: unknown): void => write('error', text, error);
