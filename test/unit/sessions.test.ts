import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JpipdError } from '../../src/errors.js';
import { DEFAULT_SESSION_LIMITS, SerialQueue, SessionTable, newChannelId, type Session } from '../../src/jpip/sessions.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof JpipdError && e.code === code;

/** A promise with its resolve/reject exposed. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask and promise callback run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('channel ids are 32 lowercase hex characters and distinct over many', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) {
    const cid = newChannelId();
    assert.match(cid, /^[0-9a-f]{32}$/);
    seen.add(cid);
  }
  assert.equal(seen.size, 20000);
  const table = new SessionTable<string>({ ...DEFAULT_SESSION_LIMITS, maxChannelsPerSession: 1000 });
  const { session, cid } = table.open('img');
  const cids = new Set([cid]);
  for (let i = 0; i < 999; i++) cids.add(table.addChannel(session));
  assert.equal(cids.size, 1000);
  for (const c of cids) assert.match(c, /^[0-9a-f]{32}$/);
  assert.notEqual(session.id, cid, 'the session id is not a channel id');
});

test('open / addChannel / byChannel: channels of one session share it (and its model)', () => {
  const table = new SessionTable<string>();
  const a = table.open('a.jp2');
  const b = table.open('b.jp2');
  assert.equal(table.size, 2);
  assert.notEqual(a.session, b.session);
  const a2 = table.addChannel(a.session);
  assert.equal(table.byChannel(a.cid), a.session);
  assert.equal(table.byChannel(a2), a.session);
  assert.equal(table.byChannel(a2).model, table.byChannel(a.cid).model);
  assert.equal(table.byChannel(b.cid).image, 'b.jp2');
  assert.deepEqual([...a.session.channels].sort(), [a.cid, a2].sort());
  assert.equal(table.size, 2, 'a channel is not a session');
});

test('byChannel: unknown or closed cid → ERR_UNKNOWN_CHANNEL', () => {
  const table = new SessionTable<string>();
  const { cid } = table.open('x');
  assert.throws(() => table.byChannel('0'.repeat(32)), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.throws(() => table.byChannel(''), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.equal(table.close([cid]), 1);
  assert.throws(() => table.byChannel(cid), isCode('ERR_UNKNOWN_CHANNEL'));
});

test('close: by ids keeps the session while it has channels; "*" closes every channel of the session', () => {
  const ended: Session<string>[] = [];
  const table = new SessionTable<string>(DEFAULT_SESSION_LIMITS, (s) => ended.push(s));
  const { session, cid } = table.open('x');
  const c2 = table.addChannel(session);
  const c3 = table.addChannel(session);
  const other = table.open('y');
  assert.equal(table.close([c2]), 1);
  assert.equal(session.closed, false);
  assert.equal(table.byChannel(cid), session);
  assert.throws(() => table.byChannel(c2), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.equal(table.close([c2, 'nope']), 0, 'already closed and unknown ids count nothing');
  assert.equal(ended.length, 0);
  assert.equal(table.close('*', c3), 2);
  assert.equal(session.closed, true);
  assert.deepEqual(ended, [session]);
  assert.throws(() => table.byChannel(cid), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.equal(table.size, 1);
  assert.equal(table.byChannel(other.cid), other.session, 'other sessions untouched');
  assert.equal(table.close('*'), 0, '"*" without a cid closes nothing');
  assert.equal(table.close('*', 'unknown'), 0);
  assert.equal(table.size, 1);
});

test('limits: maxSessions and maxChannelsPerSession → ERR_BUSY; room comes back after close', () => {
  const table = new SessionTable<number>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 3, maxChannelsPerSession: 2, idleMs: 1000 });
  const opened = [table.open(1), table.open(2), table.open(3)];
  assert.throws(() => table.open(4), isCode('ERR_BUSY'));
  assert.equal(table.size, 3);
  table.addChannel(opened[0].session);
  assert.throws(() => table.addChannel(opened[0].session), isCode('ERR_BUSY'), 'the first channel counts');
  assert.equal(opened[0].session.channels.size, 2);
  table.close([opened[1].cid]);
  const again = table.open(5);
  assert.equal(table.byChannel(again.cid).image, 5);
  assert.throws(() => table.open(6), isCode('ERR_BUSY'));
});

test('sweep: ends idle sessions, not recently used ones, and never busy ones', async () => {
  const ended: Session<string>[] = [];
  const idleMs = 60_000;
  const table = new SessionTable<string>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 10, maxChannelsPerSession: 4, idleMs }, (s) => ended.push(s));
  const idle = table.open('idle');
  const busy = table.open('busy');
  const fresh = table.open('fresh');
  const t0 = Date.now();
  fresh.session.lastActive = t0 + idleMs; // touched later
  const gate = deferred();
  const running = busy.session.queue.run(() => gate.promise);
  assert.equal(table.sweep(t0 - 1), 0, 'nothing is idle yet');
  const later = t0 + idleMs + 10;
  assert.equal(table.sweep(later), 1);
  assert.deepEqual(ended, [idle.session]);
  assert.throws(() => table.byChannel(idle.cid), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.equal(table.byChannel(busy.cid), busy.session, 'a session with a running request survives');
  // byChannel touched it; make it idle again while the job still runs.
  busy.session.lastActive = t0;
  assert.equal(table.sweep(later), 0, 'still busy');
  gate.resolve();
  await running;
  assert.equal(busy.session.queue.size, 0);
  assert.equal(table.sweep(later), 1);
  assert.deepEqual(ended, [idle.session, busy.session]);
  assert.equal(table.sweep(t0 + 2 * idleMs + 1), 1, 'fresh expires in its turn');
  assert.equal(table.size, 0);
});

test('onEnd is called exactly once per session, whatever ends it', () => {
  const count = new Map<string, number>();
  const table = new SessionTable<string>(DEFAULT_SESSION_LIMITS, (s) => count.set(s.image, (count.get(s.image) ?? 0) + 1));
  const a = table.open('a');
  const a2 = table.addChannel(a.session);
  const b = table.open('b');
  table.open('c');
  table.close([a.cid, a2]);
  table.close([a.cid]);
  table.close('*', a2);
  table.sweep(Date.now() + DEFAULT_SESSION_LIMITS.idleMs + 1);
  table.close([b.cid]);
  table.closeAll();
  table.closeAll();
  assert.deepEqual(Object.fromEntries(count), { a: 1, b: 1, c: 1 });
  assert.equal(table.size, 0);
});

test('SerialQueue: strictly in order, even when earlier jobs are slower', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const gates = [deferred(), deferred(), deferred()];
  const results = gates.map((g, i) =>
    q.run(async () => {
      log.push(`start ${i}`);
      await g.promise;
      log.push(`end ${i}`);
      return i;
    }),
  );
  assert.equal(q.size, 3);
  await settle();
  assert.deepEqual(log, ['start 0'], 'job 1 waits for job 0');
  gates[2].resolve();
  gates[1].resolve();
  await settle();
  assert.deepEqual(log, ['start 0'], 'later jobs being ready changes nothing');
  gates[0].resolve();
  assert.deepEqual(await Promise.all(results), [0, 1, 2]);
  assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  assert.equal(q.size, 0);
});

test('SerialQueue: a rejected (or throwing) job does not stop or reorder the next ones', async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const gate = deferred();
  const first = q.run(async () => {
    log.push('start 0');
    await gate.promise;
    throw new Error('boom');
  });
  const second = q.run(() => {
    log.push('start 1');
    throw new Error('sync boom');
  });
  const third = q.run(async () => {
    log.push('start 2');
    return 'ok';
  });
  await settle();
  assert.deepEqual(log, ['start 0']);
  gate.resolve();
  await assert.rejects(first, /boom/);
  await assert.rejects(second, /sync boom/);
  assert.equal(await third, 'ok');
  assert.deepEqual(log, ['start 0', 'start 1', 'start 2']);
  assert.equal(q.size, 0);
  // The queue keeps working afterwards.
  assert.equal(await q.run(async () => 7), 7);
});
