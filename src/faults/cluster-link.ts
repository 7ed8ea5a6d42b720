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
import { RequestChannel, parentProcessEndpoint, serveCalls } from '../request-channel.js';

/** The questions travel on a RequestChannel of this name: one kind, answered with the verdict. */
const FAULTS_CHANNEL = 'cluster-faults';
type Ask = Readonly<{ kind: 'decide'; event: FaultEvent }>;
type Answers = { decide: FaultVerdict };
type Active = Readonly<{ type: 'faults-active'; active: boolean }>;

const typeOf = (m: unknown): unknown => (typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined);

/** In the primary, for each worker forked: answers its questions with `faults`, and keeps it told whether to ask. */
export function serveFaults(worker: Worker, faults: FaultController): void {
  const tell = (active: boolean): void => {
    if (worker.isConnected()) worker.send({ type: 'faults-active', active } satisfies Active);
  };
  const off = faults.onChange(tell);
  worker.on('exit', off);
  const serve = serveCalls<Ask>(FAULTS_CHANNEL, (ask) => faults.decide(ask.event), (answer) => {
    if (worker.isConnected()) worker.send(answer);
  });
  worker.on('message', (m: unknown) => {
    if (!serve(m) && typeOf(m) === 'listening') tell(faults.active());
  });
}

/** In a worker: the policy its server asks, which asks the primary. Register before the worker says it listens. */
export function workerFaultPolicy(): FaultPolicy {
  let active = false;
  process.on('message', (m: unknown) => {
    if (typeOf(m) === 'faults-active') active = (m as Active).active;
  });
  // The primary gone: nobody will answer; the sessions go on unfaulted (the channel fails what it had: NO_FAULT).
  process.on('disconnect', () => {
    active = false;
  });
  const channel = new RequestChannel<Ask, Answers>({ channel: FAULTS_CHANNEL, name: 'the cluster primary', open: parentProcessEndpoint });
  return {
    active: () => active,
    decide(event) {
      if (process.send === undefined || !process.connected) return NO_FAULT;
      return channel.call({ kind: 'decide', event }).catch(() => NO_FAULT);
    },
  };
}
