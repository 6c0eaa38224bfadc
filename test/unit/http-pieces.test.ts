/**
 * The HTTP route's streaming rules against a socket that takes a few KB per write (a slow reader over
 * a real network; on loopback the kernel's buffers hide it): what the socket does not take is copied
 * once and counted, later pieces are small for that connection, every piece is small while the
 * thread holds its budget of unsent bytes, and everything counted is given back when the exchange
 * ends, whole or aborted. uWebSockets.js is replaced by a recorder of the calls the route makes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { addHttpRoute, heldBytes, HELD_BUDGET_BYTES, MAX_BODY_BYTES, MAX_HEAD_BYTES, MIN_PIECE_BYTES, SLOW_PIECE_BYTES, SMALL_BODY_BYTES } from '../../src/server/http.js';
import type { JpipService, Reply } from '../../src/server/service.js';

const PIECE = 2 * 1024 * 1024;

/** A socket that takes `perWrite` bytes per tryEnd until `stalled`; records the body. */
class SlowSocket {
  offset = 0;
  writable: (() => boolean) | null = null;
  aborted: (() => void) | null = null;
  ended = false;
  stalled = false;
  /** Bytes handed to end(), which uWebSockets.js would buffer without bound. */
  endBytes = 0;
  constructor(readonly perWrite: number) {}
  res(): HttpResponse {
    const self = this;
    const r = {
      writeStatus: () => r,
      writeHeader: () => r,
      cork: (f: () => void) => (f(), r),
      resume: () => r,
      pause: () => r,
      close: () => r,
      end: (body?: Uint8Array) => ((self.endBytes += body?.byteLength ?? 0), (self.ended = true), r),
      getRemoteAddressAsText: () => new TextEncoder().encode('127.0.0.1').buffer,
      getWriteOffset: () => self.offset,
      onAborted: (f: () => void) => ((self.aborted = f), r),
      onWritable: (f: () => boolean) => ((self.writable = f), r),
      tryEnd(piece: ArrayBuffer | Uint8Array, total: number): [boolean, boolean] {
        const n = self.stalled ? 0 : Math.min(piece.byteLength, self.perWrite);
        self.offset += n;
        const done = self.offset >= total;
        if (done) self.ended = true;
        return [n === piece.byteLength, done];
      },
    };
    return r as unknown as HttpResponse;
  }
  /** Drains until the response ends or `rounds` writable events passed. */
  drain(rounds = 1e6): void {
    for (let i = 0; i < rounds && !this.ended && this.writable; i++) this.writable();
  }
}

/** A streamed reply of `total` bytes whose pieces honour the size the transport asks for. */
function streamedReply(total: number, asked: Array<number | undefined>): Reply {
  let sent = PIECE;
  const reply: Reply = {
    status: 200,
    statusText: 'OK',
    headers: [],
    body: new Uint8Array(PIECE),
    more: true,
    length: total,
    next(maxBytes?: number): Uint8Array {
      asked.push(maxBytes);
      const n = Math.min(maxBytes ?? PIECE, total - sent);
      sent += n;
      if (sent >= total) reply.more = false;
      return new Uint8Array(n);
    },
    undelivered() {
      reply.more = false;
    },
    log: {},
  };
  return reply;
}

/** The route's handler, with a service that answers every request with `make()`. */
function route(make: () => Reply): (res: HttpResponse) => void {
  let handler: ((res: HttpResponse, req: HttpRequest) => void) | null = null;
  const app = { any: (_p: string, h: typeof handler) => (handler = h) } as unknown as TemplatedApp;
  const service = { handle: () => make(), error: () => make() } as unknown as JpipService;
  addHttpRoute(app, service, { maxHeadBytes: MAX_HEAD_BYTES, maxBodyBytes: MAX_BODY_BYTES }, () => {});
  const req = {
    getCaseSensitiveMethod: () => 'GET',
    getUrl: () => '/a.jp2',
    getQuery: () => 'fsiz=64,64',
    getHeader: () => '',
    forEach: () => {},
  } as unknown as HttpRequest;
  return (res) => handler?.(res, req);
}

test('a slow reader gets small pieces, its unsent bytes are counted once and given back', () => {
  const asked: Array<number | undefined> = [];
  const sock = new SlowSocket(16 * 1024);
  route(() => streamedReply(8 * PIECE, asked))(sock.res());
  // The socket took 16 KB of the first 2 MB piece: the rest is a copy this thread holds.
  assert.equal(heldBytes(), PIECE - 16 * 1024);
  sock.drain();
  assert.ok(sock.ended, 'the whole body went out');
  assert.equal(sock.offset, 8 * PIECE);
  assert.ok(asked.length > 4 && asked.every((m) => m === SLOW_PIECE_BYTES), `pieces asked after the stall: ${[...new Set(asked)]}`);
  assert.equal(heldBytes(), 0);
});

test('a whole body larger than SMALL_BODY_BYTES goes through tryEnd: its unsent rest is counted, not left to uWebSockets.js', () => {
  const body = 1024 * 1024;
  const whole = (): Reply => ({ ...streamedReply(body, []), body: new Uint8Array(body), more: false });
  const slow = new SlowSocket(8 * 1024);
  route(whole)(slow.res());
  assert.equal(slow.endBytes, 0, 'not ended with end()');
  assert.equal(heldBytes(), body - 8 * 1024);
  slow.drain();
  assert.equal(slow.offset, body);
  assert.equal(heldBytes(), 0);
  const small = new SlowSocket(8 * 1024);
  route(() => ({ ...whole(), body: new Uint8Array(SMALL_BODY_BYTES), length: SMALL_BODY_BYTES }))(small.res());
  assert.equal(small.endBytes, SMALL_BODY_BYTES, 'a small body is ended at once');
});

test('a fast reader keeps whole pieces', () => {
  const asked: Array<number | undefined> = [];
  const sock = new SlowSocket(Infinity);
  route(() => streamedReply(4 * PIECE, asked))(sock.res());
  assert.ok(sock.ended);
  assert.deepEqual([...new Set(asked)], [undefined], 'never limited');
  assert.equal(heldBytes(), 0);
});

test('past the budget every connection gets the smallest pieces; aborts give the bytes back', () => {
  const stalled: SlowSocket[] = [];
  const asked: Array<number | undefined> = [];
  const handle = route(() => streamedReply(64 * PIECE, asked));
  // Stalled readers that each took 1 KB of their first piece, until the thread holds its budget.
  while (heldBytes() < HELD_BUDGET_BYTES) {
    const s = new SlowSocket(1024);
    handle(s.res());
    s.stalled = true;
    stalled.push(s);
  }
  assert.ok(stalled.length <= Math.ceil(HELD_BUDGET_BYTES / (PIECE - 1024)), `${stalled.length} readers reached the budget`);
  // A new slow reader: its pieces after the first are the smallest.
  const next = new SlowSocket(4 * 1024);
  handle(next.res());
  next.drain(200);
  assert.ok(asked.slice(-50).every((m) => m === MIN_PIECE_BYTES), `pieces asked over budget: ${[...new Set(asked.slice(-50))]}`);
  next.aborted?.();
  for (const s of stalled) s.aborted?.();
  assert.equal(heldBytes(), 0, 'aborted exchanges give back what they held');
});
