/**
 * Fault injection across `--workers N`: the rules and their counters live in the primary, so that "every 3rd MAIL"
 * or "10 connections a minute" count every worker's sessions together. A worker asks the primary about each event
 * over the cluster's IPC channel, and only while a document is loaded: the primary tells each worker whether one is
 * (when the worker says it listens, and at every change), so without faults a worker never asks.
 * These messages travel beside the cluster's own (src/cluster.ts ignores them, and this file ignores those).
 */
import type { Worker } from 'node:cluster';
import type { FaultController, FaultPolicy } from './controller.js';
import { NO_FAULT, type FaultEvent, type FaultVerdict } from './engine.js';

type Ask = Readonly<{ type: 'fault-ask'; n: number; event: FaultEvent }>;
type Answer = Readonly<{ type: 'fault-verdict'; n: number; verdict: FaultVerdict }>;
type Active = Readonly<{ type: 'faults-active'; active: boolean }>;

const typeOf = (m: unknown): unknown => (typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined);

/** In the primary, for each worker forked: answers its questions with `faults`, and keeps it told whether to ask. */
export function serveFaults(worker: Worker, faults: FaultController): void {
  const tell = (active: boolean): void => {
    if (worker.isConnected()) worker.send({ type: 'faults-active', active } satisfies Active);
  };
  const off = faults.onChange(tell);
  worker.on('exit', off);
  worker.on('message', (m: unknown) => {
    const type = typeOf(m);
    if (type === 'listening') tell(faults.active());
    else if (type === 'fault-ask') {
      const ask = m as Ask;
      if (worker.isConnected()) worker.send({ type: 'fault-verdict', n: ask.n, verdict: faults.decide(ask.event) } satisfies Answer);
    }
  });
}

/** In a worker: the policy its server asks, which asks the primary. Register before the worker says it listens. */
export function workerFaultPolicy(): FaultPolicy {
  let active = false;
  let next = 0;
  const pending = new Map<number, (v: FaultVerdict) => void>();
  process.on('message', (m: unknown) => {
    const type = typeOf(m);
    if (type === 'faults-active') {
      active = (m as Active).active;
    } else if (type === 'fault-verdict') {
      const a = m as Answer;
      pending.get(a.n)?.(a.verdict);
      pending.delete(a.n);
    }
  });
  // The primary gone: nobody will answer; let the sessions go on unfaulted.
  process.on('disconnect', () => {
    active = false;
    for (const resolve of pending.values()) resolve(NO_FAULT);
    pending.clear();
  });
  return {
    active: () => active,
    decide(event) {
      if (process.send === undefined || !process.connected) return NO_FAULT;
      const n = ++next;
      return new Promise<FaultVerdict>((resolve) => {
        pending.set(n, resolve);
        process.send?.({ type: 'fault-ask', n, event } satisfies Ask);
      });
    },
  };
}
