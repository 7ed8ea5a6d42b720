/**
 * A catcher for the browser tests: the whole service on free loopback ports, a memory store, its HTTP API and UI up.
 */
import { startService, type RunningService } from '../../src/service.js';
import type { ChecksConfig } from '../../src/checks/service.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import type { Dialect } from '../../src/smtp/core/types.js';

export type Catcher = RunningService & { http: NonNullable<RunningService['http']> };

/** `checks`: the message checks' settings (e.g. the local hosts a link check may reach). */
export async function startMemoryCatcher(dialect: Dialect = simplifiedDialect, checks?: ChecksConfig): Promise<Catcher> {
  const service = await startService({
    smtp: { host: '127.0.0.1', port: 0, dialect, limits: resolveLimits(), display: quietDisplay },
    store: { kind: 'memory' },
    http: { host: '127.0.0.1', port: 0 },
    ...(checks === undefined ? {} : { checks }),
  });
  if (!hasHttp(service)) throw new Error(`no HTTP API: ${service.httpError?.message ?? '?'}`);
  return service;
}

const hasHttp = (s: RunningService): s is Catcher => s.http !== null;
