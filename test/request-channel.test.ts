/**
 * The one request/answer channel (src/request-channel.ts) against a far side the test drives by hand: numbering and
 * typed answers, one message per tick when batched, a deadline per call (cut, or kept when the far side took it),
 * death (only what the far side had fails; the rest goes to the next), ref while busy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChannelError, RequestChannel, serveCalls, type CallMessage, type Endpoint } from '../src/request-channel.js';
import { waitFor } from './helpers/wait.js';

type Req = Readonly<{ kind: 'add'; a: number; b: number }> | Readonly<{ kind: 'echo'; text: string }>;
type Answers = { add: number; echo: string };

/** A far side whose messages the test sees and answers. */
function far(): { endpoint: Endpoint; posted: CallMessage<Req>[]; reply(m: unknown): void; die(why: string): void; refs: string[] } {
  const posted: CallMessage<Req>[] = [];
  const refs: string[] = [];
  let onMessage: (m: unknown) => void = () => {};
  let onLost: (why: string) => void = () => {};
  return {
    posted, refs,
    endpoint: {
      post: (m) => posted.push(m as CallMessage<Req>),
      listen(message, lost) {
        onMessage = message;
        onLost = lost;
      },
      ref: () => refs.push('ref'),
      unref: () => refs.push('unref'),
    },
    reply: (m) => onMessage(m),
    die: (why) => onLost(why),
  };
}

/** A far side that answers through serveCalls, as a worker does. */
function serving(): { endpoint: Endpoint; posted: number } {
  let onMessage: (m: unknown) => void = () => {};
  const state = { posted: 0, endpoint: undefined as unknown as Endpoint };
  const serve = serveCalls<Req>('t', (r) => {
    if (r.kind === 'add') return r.a + r.b;
    if (r.text === 'boom') throw new Error('no echo for boom');
    return r.text;
  }, (answer) => queueMicrotask(() => onMessage(answer)));
  state.endpoint = {
    post: (m) => {
      state.posted++;
      serve(m);
    },
    listen(message) {
      onMessage = message;
    },
  };
  return state;
}

describe('request channel', () => {
  // The channel's deadline timer is unref'd (a call's own I/O keeps a process alive); these far sides have none.
  let alive: NodeJS.Timeout | undefined;
  before(() => { alive = setInterval(() => undefined, 1000); });
  after(() => clearInterval(alive));
  it('answers each call with its own answer, typed by its kind; a far-side throw fails only its call', async () => {
    const side = serving();
    const channel = new RequestChannel<Req, Answers>({ channel: 't', open: () => side.endpoint });
    const sum: number = await channel.call({ kind: 'add', a: 2, b: 3 });
    const text: string = await channel.call({ kind: 'echo', text: 'hi' });
    assert.equal(sum, 5);
    assert.equal(text, 'hi');
    await assert.rejects(channel.call({ kind: 'echo', text: 'boom' }), (e: unknown) => e instanceof ChannelError && e.message === 'no echo for boom');
    assert.equal(channel.inFlight, 0);
  });

  it('sends the calls of one tick in one message when batched, numbered in order', async () => {
    const f = far();
    const channel = new RequestChannel<Req, Answers>({ channel: 't', open: () => f.endpoint, batch: true });
    const calls = [channel.call({ kind: 'add', a: 1, b: 1 }), channel.call({ kind: 'echo', text: 'x' })];
    await Promise.resolve();
    assert.equal(f.posted.length, 1);
    assert.deepEqual(f.posted[0]?.calls.map((c) => c.n), [1, 2]);
    f.reply({ channel: 't', answers: [{ n: 2, ok: true, value: 'x' }, { n: 1, ok: true, value: 2 }] });
    assert.deepEqual(await Promise.all(calls), [2, 'x']);
  });

  it('fails a call at its deadline, and never sends one that had not gone yet', async () => {
    const f = far();
    const channel = new RequestChannel<Req, Answers>({ channel: 't', waitForReady: true, deadlineMs: 50 });
    channel.attach(f.endpoint); // not ready: calls wait
    const started = Date.now();
    await assert.rejects(channel.call({ kind: 'echo', text: 'late' }), (e: unknown) => e instanceof ChannelError && e.code === 'deadline');
    assert.ok(Date.now() - started < 1000);
    channel.ready();
    assert.equal(f.posted.length, 0); // dropped at its deadline, not sent once ready
  });

  it('waits past the deadline for a call the far side took (cut says no), and takes its late answer', async () => {
    const f = far();
    const channel = new RequestChannel<Req, Answers>({ channel: 't', open: () => f.endpoint });
    let cutAsked = false;
    const call = channel.call({ kind: 'echo', text: 'taken' }, { deadline: { at: Date.now() + 20, cut: () => ((cutAsked = true), false) } });
    await waitFor('the deadline to ask cut()', () => cutAsked);
    f.reply({ channel: 't', answers: [{ n: 1, ok: true, value: 'taken' }] });
    assert.equal(await call, 'taken');
  });

  it('fails what a lost far side had, sends what it never got to the next one, and refs only while busy', async () => {
    const sides = [far(), far()];
    let opened = 0;
    const channel = new RequestChannel<Req, Answers>({ channel: 't', open: () => sides[opened++]!.endpoint, refWhileBusy: true, waitForReady: true });
    const first = sides[0]!;
    const had = channel.call({ kind: 'echo', text: 'had' });
    channel.ready();
    assert.equal(first.posted.length, 1);
    channel.ready(); // nothing new to send
    first.die('exited (1)');
    await assert.rejects(had, (e: unknown) => e instanceof ChannelError && e.code === 'lost' && e.message === 't exited (1)');
    const next = channel.call({ kind: 'add', a: 1, b: 2 }); // opens the second
    const second = sides[1]!;
    assert.equal(opened, 2);
    channel.ready();
    assert.equal(second.posted.length, 1);
    second.reply({ channel: 't', answers: [{ n: 2, ok: true, value: 3 }] });
    assert.equal(await next, 3);
    assert.deepEqual(second.refs, ['ref', 'unref']); // busy from its start, idle once answered
    // Other traffic on the same port is not the channel's.
    second.reply({ channel: 'other', answers: [{ n: 2, ok: true, value: 99 }] });
    assert.equal(channel.inFlight, 0);
  });

  it('refuses calls once closed, failing those in flight', async () => {
    const f = far();
    const channel = new RequestChannel<Req, Answers>({ channel: 't', open: () => f.endpoint });
    const pending = channel.call({ kind: 'echo', text: 'x' });
    channel.close('t is closed');
    await assert.rejects(pending, /t is closed/);
    await assert.rejects(channel.call({ kind: 'echo', text: 'y' }), (e: unknown) => e instanceof ChannelError && e.code === 'closed');
  });
});
