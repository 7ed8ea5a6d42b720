/**
 * --log-format json: one JSON object a line through pino, for log collectors. The session summary is logged at info;
 * with verbose, every command and reply too (AUTH already redacted by the shell).
 */
import { pino, type Logger } from 'pino';
import type { Display } from './display.js';

export function createJsonDisplay(verbose: boolean, logger: Logger = pino({ base: { service: 'mailwire' } }, pino.destination({ dest: 1, sync: true }))): Display {
  const nothing = (): void => {};
  return {
    connected: verbose ? (tag) => logger.debug({ client: tag }, 'connected') : nothing,
    disconnected: verbose ? (tag, why) => logger.debug({ client: tag, end: why }, 'disconnected') : nothing,
    command: verbose ? (tag, text) => logger.info({ client: tag, dir: 'C' }, text) : nothing,
    messageText: verbose ? (tag, latin1) => logger.info({ client: tag, dir: 'M' }, Buffer.from(latin1, 'latin1').toString('utf8')) : nothing,
    reply: verbose ? (tag, text) => logger.info({ client: tag, dir: 'S' }, text) : nothing,
    info: (text) => logger.info(text),
    error: (tag, text) => logger.error({ client: tag }, text),
    session: (s) => logger.info({ session: s }, 'session'),
    showsLines: verbose,
  };
}
