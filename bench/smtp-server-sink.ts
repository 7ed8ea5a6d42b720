/**
 * nodemailer's smtp-server as a plain sink, for `npm run bench`: no AUTH, no STARTTLS, every message read to its end
 * and acknowledged. Runs in its own process so that it has an event loop to itself, as our server has.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  disabledCommands: ['AUTH', 'STARTTLS'],
  authOptional: true,
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => callback());
  },
});
server.on('error', (e) => console.error(`smtp-server: ${e.message}`));
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${(server.server.address() as AddressInfo).port}`);
});
const stop = (): void => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
