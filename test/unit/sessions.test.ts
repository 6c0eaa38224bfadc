import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JpipdError } from '../../src/errors.js';
import { BinKind } from '../../src/jpip/cache-model.js';
import { channelOwner, DEFAULT_SESSION_LIMITS, SessionTable, newChannelId, type Session } from '../../src/jpip/sessions.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof JpipdError && e.code === code;

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

test('channel ids name their owner thread in the first two hex digits; anything else has no owner', () => {
  for (const owner of [0, 1, 7, 15, 16, 200, 255]) {
    const table = new SessionTable<string>(DEFAULT_SESSION_LIMITS, () => {}, owner);
    const { cid } = table.open('x');
    assert.match(cid, /^[0-9a-f]{32}$/);
    assert.equal(channelOwner(cid), owner);
    assert.equal(channelOwner(newChannelId(owner)), owner);
  }
  for (const bad of ['', 'abc', '0'.repeat(31), 'G'.repeat(32), '0'.repeat(33), '12-' + '0'.repeat(29)]) assert.equal(channelOwner(bad), -1);
});

test('a node name prefixes every channel id, and the owner thread is still read from it', () => {
  const table = new SessionTable<string>(DEFAULT_SESSION_LIMITS, () => {}, 3, undefined, 'n2');
  const { session, cid } = table.open('x');
  assert.match(cid, /^n2\.03[0-9a-f]{30}$/);
  assert.equal(channelOwner(cid), 3);
  assert.match(table.addChannel(session), /^n2\.03[0-9a-f]{30}$/);
  assert.equal(table.find(cid), session);
  for (const bad of ['n2.' + '0'.repeat(31), 'N2.' + '0'.repeat(32), 'a'.repeat(17) + '.' + '0'.repeat(32), '.' + '0'.repeat(32), 'n2..' + '0'.repeat(32)]) {
    assert.equal(channelOwner(bad), -1, bad);
  }
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

/** Gives a session one held data-bin (it has received data: not "byte-less"). */
const holdData = (o: { session: Session<number> }): void => o.session.model.set(BinKind.Precinct, 0, 1, 10);

test('limits: maxSessions and maxChannelsPerSession → ERR_BUSY; room comes back after close', () => {
  const table = new SessionTable<number>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 3, maxChannelsPerSession: 2, idleMs: 1000 });
  const opened = [table.open(1), table.open(2), table.open(3)];
  opened.forEach(holdData); // sessions with data, recently active: nothing to evict
  assert.throws(() => table.open(4), isCode('ERR_BUSY'));
  assert.equal(table.size, 3);
  table.addChannel(opened[0].session);
  assert.throws(() => table.addChannel(opened[0].session), isCode('ERR_BUSY'), 'the first channel counts');
  assert.equal(opened[0].session.channels.size, 2);
  table.close([opened[1].cid]);
  const again = table.open(5);
  holdData(again);
  assert.equal(table.byChannel(again.cid).image, 5);
  assert.throws(() => table.open(6), isCode('ERR_BUSY'));
});

test('a full table makes room: byte-less free sessions first (least recently used), then long-idle ones, never busy ones', () => {
  const table = new SessionTable<number>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 4, evictIdleMs: 60_000 });
  const a = table.open(1);
  const b = table.open(2);
  const c = table.open(3);
  const d = table.open(4);
  holdData(a);
  holdData(c);
  b.session.busy = true; // byte-less but busy: never ended under a running request
  // d is byte-less and free: the first victim.
  const e = table.open(5);
  assert.equal(table.find(d.cid), undefined, 'the byte-less session made room');
  assert.equal(table.evicted, 1);
  holdData(e);
  // Now every free session holds data and is recent: the table refuses...
  assert.throws(() => table.open(6), isCode('ERR_BUSY'));
  // ...until one has been idle for evictIdleMs: the least recently used such one goes.
  a.session.lastActive = Date.now() - 120_000;
  c.session.lastActive = Date.now() - 120_000;
  table.find(c.cid); // c used again (and moved to the end): a is now the least recently used
  c.session.lastActive = Date.now() - 120_000;
  table.open(7);
  assert.equal(table.find(a.cid), undefined, 'the least recently used idle session made room');
  assert.ok(table.find(c.cid));
  assert.ok(table.find(b.cid), 'the busy session stays');
});

test('one client cannot hold more than maxSessionsPerClient: its own least recently used session gives way', () => {
  const table = new SessionTable<number>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 100, maxSessionsPerClient: 3 });
  const mine = [table.open(1, '10.0.0.1'), table.open(2, '10.0.0.1'), table.open(3, '10.0.0.1')];
  mine.forEach(holdData);
  const other = table.open(9, '10.0.0.2');
  holdData(other);
  table.find(mine[0].cid); // used again: mine[1] is now this client's least recently used
  const fourth = table.open(4, '10.0.0.1');
  assert.ok(table.find(fourth.cid));
  assert.equal(table.find(mine[1].cid), undefined, "the client's least recently used session ended");
  assert.ok(table.find(mine[0].cid) && table.find(mine[2].cid) && table.find(other.cid), 'the others stay');
  // A client whose sessions are all busy is refused rather than cut.
  for (const m of [mine[0], mine[2], fourth]) m.session.busy = true;
  assert.throws(() => table.open(5, '10.0.0.1'), isCode('ERR_BUSY'));
  assert.ok(table.open(6, '10.0.0.3'), 'other clients are unaffected');
});

test('sweep: ends idle sessions, not recently used ones, and never busy ones', () => {
  const ended: Session<string>[] = [];
  const idleMs = 60_000;
  const table = new SessionTable<string>({ ...DEFAULT_SESSION_LIMITS, maxSessions: 10, maxChannelsPerSession: 4, idleMs }, (s) => ended.push(s));
  const idle = table.open('idle');
  const busy = table.open('busy');
  const fresh = table.open('fresh');
  const t0 = Date.now();
  fresh.session.lastActive = t0 + idleMs; // touched later
  busy.session.busy = true; // a response is being produced
  assert.equal(table.sweep(t0 - 1), 0, 'nothing is idle yet');
  const later = t0 + idleMs + 10;
  assert.equal(table.sweep(later), 1);
  assert.deepEqual(ended, [idle.session]);
  assert.throws(() => table.byChannel(idle.cid), isCode('ERR_UNKNOWN_CHANNEL'));
  assert.equal(table.byChannel(busy.cid), busy.session, 'a session with a running request survives');
  // byChannel touched it; make it idle again while the response is still being produced.
  busy.session.lastActive = t0;
  assert.equal(table.sweep(later), 0, 'still busy');
  busy.session.busy = false;
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

test('turns: waiting requests run one at a time in arrival order, each holding the session', () => {
  const table = new SessionTable<string>();
  const { session } = table.open('x');
  const log: string[] = [];
  assert.equal(session.free, true);
  session.busy = true; // request 0 is running
  for (const i of [1, 2, 3]) session.waiting.push(() => log.push(`start ${i} busy=${session.busy}`));
  assert.equal(session.free, false);
  session.wake();
  assert.deepEqual(log, [], 'nobody starts while the session is busy');
  session.busy = false; // request 0 done
  session.wake();
  assert.deepEqual(log, ['start 1 busy=true'], 'the next waiter is handed the session (busy) before it runs');
  session.wake();
  assert.equal(log.length, 1, 'waking a busy session starts nobody');
  session.busy = false;
  session.wake();
  session.busy = false;
  session.wake();
  assert.deepEqual(log, ['start 1 busy=true', 'start 2 busy=true', 'start 3 busy=true']);
  session.busy = false;
  assert.equal(session.free, true);
});

test('ending a session releases its waiting requests (they then find the channel closed)', () => {
  const table = new SessionTable<string>();
  const { session, cid } = table.open('x');
  session.busy = true;
  const ran: boolean[] = [];
  session.waiting.push(() => ran.push(table.find(cid) === undefined));
  table.close([cid]);
  assert.deepEqual(ran, [true]);
  assert.equal(session.waiting.length, 0);
});

test('the model entries of all sessions are bounded together, and given back when a session ends', () => {
  const table = new SessionTable<number>({ ...DEFAULT_SESSION_LIMITS }, () => {}, 0, 100);
  const a = table.open(1);
  const b = table.open(2);
  for (let id = 0; id < 60; id++) a.session.model.set(BinKind.Precinct, 0, id, 5);
  for (let id = 0; id < 40; id++) b.session.model.set(BinKind.Precinct, 0, id, 5);
  assert.equal(table.modelBudget.used, 100);
  assert.throws(() => b.session.model.set(BinKind.Precinct, 0, 99, 5), isCode('ERR_BUSY'));
  b.session.model.set(BinKind.Precinct, 0, 3, 9); // a bin it already holds: no new entry, allowed
  a.session.model.set(BinKind.Precinct, 0, 0, 0); // forgetting frees one
  b.session.model.set(BinKind.Precinct, 0, 99, 5);
  table.close([a.cid]);
  assert.equal(table.modelBudget.used, 41, "a's entries were given back");
  for (let id = 100; id < 159; id++) b.session.model.set(BinKind.Precinct, 0, id, 5);
  assert.equal(table.modelBudget.used, 100);
});
