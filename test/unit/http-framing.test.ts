/** HTTP/1.1 framing for the sequencer: requests cut off a stream, responses followed to their end. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FramingError, ResponseTracker, takeRequests } from '../../src/server/http-framing.js';

const B = (s: string) => Buffer.from(s, 'latin1');

describe('takeRequests', () => {
  it('cuts pipelined requests, with and without bodies, and keeps a partial one for later', () => {
    const a = 'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n';
    const b = 'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello';
    const c = 'GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const all = B(a + b + c + 'GET /d HTTP/1.1\r\nHo');
    const { requests, rest } = takeRequests(all, 8192, 1024);
    assert.deepEqual(requests.map((r) => r.bytes.toString('latin1')), [a, b, c]);
    assert.deepEqual(requests.map((r) => [r.method, r.http10]), [['GET', false], ['POST', false], ['GET', true]]);
    assert.equal(requests[1].headers.get('content-length'), '5');
    assert.equal(rest.toString('latin1'), 'GET /d HTTP/1.1\r\nHo');
    // A body not yet complete waits.
    const partial = takeRequests(B('POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel'), 8192, 1024);
    assert.equal(partial.requests.length, 0);
  });

  it('refuses oversized heads and bodies, chunked request bodies and garbage', () => {
    const fail = (s: string, status: number) => assert.throws(() => takeRequests(B(s), 64, 10), (e: unknown) => e instanceof FramingError && e.status === status);
    fail('GET /' + 'x'.repeat(100) + ' HTTP/1.1\r\n\r\n', 431);
    fail('GET /' + 'x'.repeat(100), 431);
    fail('POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n', 413);
    fail('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', 411);
    fail('HELLO\r\n\r\n', 400);
    fail('GET / HTTP/1.1\r\nno-colon\r\n\r\n', 400);
    fail('POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400);
  });
});

describe('ResponseTracker', () => {
  it('finds the end of chunked and Content-Length responses fed in any pieces', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n';
    const fixed = 'HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope';
    const stream = B(chunked + fixed + 'HTTP/1.1 204 No Content\r\n\r\n');
    for (const step of [1, 2, 7, 1000]) {
      const ends: number[] = [];
      let t = new ResponseTracker();
      let consumed = 0;
      for (let i = 0; i < stream.length; i += step) {
        let piece = stream.subarray(i, Math.min(stream.length, i + step));
        while (piece.length > 0) {
          const used = t.feed(piece);
          consumed += used;
          piece = piece.subarray(used);
          if (t.done) {
            ends.push(consumed);
            t = new ResponseTracker();
          }
        }
      }
      assert.deepEqual(ends, [chunked.length, chunked.length + fixed.length, stream.length], `step ${step}`);
    }
  });

  it('passes over interim 1xx responses to the final one', () => {
    const t = new ResponseTracker();
    const text = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    assert.equal(t.feed(B(text)), text.length);
    assert.ok(t.done);
    assert.equal(t.status, 200);
  });

  it('notices Connection: close, 101 upgrades and bodiless HEAD answers', () => {
    const c = new ResponseTracker();
    c.feed(B('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'));
    assert.ok(c.done && c.close);
    const u = new ResponseTracker();
    const used = u.feed(B('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello'));
    assert.ok(u.done && u.upgraded);
    assert.equal(used, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'.length);
    const h = new ResponseTracker(true);
    h.feed(B('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'));
    assert.ok(h.done);
    assert.throws(() => new ResponseTracker().feed(B('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')), FramingError);
  });
});

describe('Expect: 100-continue', () => {
  it('reports a head that waits for 100 Continue before its body', () => {
    const head = 'POST /x HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n';
    assert.equal(takeRequests(B(head), 8192, 1024).expectsContinue, true);
    assert.equal(takeRequests(B(head + 'abc'), 8192, 1024).expectsContinue, false);
    assert.equal(takeRequests(B('POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\n'), 8192, 1024).expectsContinue, false);
  });
});
