/**
 * The thread that runs bcrypt for ./bcrypt-pool.ts: one job at a time, so the pool's thread count is the number of
 * bcrypt computations that can run at once. A bcrypt check takes ~85 ms of CPU at cost 10; on the event loop it held
 * every SMTP and HTTP client for that long (issue #25, item 4).
 */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';
import type { BcryptJob, BcryptResult } from './bcrypt-pool.js';

parentPort?.on('message', (job: BcryptJob) => {
  let result: BcryptResult;
  try {
    result = job.kind === 'compare'
      ? { id: job.id, kind: 'compared', ok: bcrypt.compareSync(job.password, job.hash) }
      : { id: job.id, kind: 'hashed', hash: bcrypt.hashSync(job.password, job.cost) };
  } catch (e) {
    result = { id: job.id, kind: 'failed', message: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(result);
});
