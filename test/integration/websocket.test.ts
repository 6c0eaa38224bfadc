/**
 * WebSocket JPIP transport: requests as text messages, a JSON head and a binary JPP body back, in
 * order; the same sessions as HTTP (a channel opened over WebSocket continues over HTTP); bad
 * messages get an error head, and the socket stays usable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { JpipSession } from '../../src/client/session.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

interface WsReply {
  head: { seq: number; status: number; headers: Record<string, string> };
  body: Uint8Array;
}

/** Sends every request at once and collects the replies in arrival order. */
async function exchange(requests: string[]): Promise<WsReply[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/jpip-ws`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const replies: WsReply[] = [];
  let head: WsReply['head'] | undefined;
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) head = JSON.parse(data.toString());
      else {
        replies.push({ head: head as WsReply['head'], body: new Uint8Array(data as Buffer) });
        if (replies.length === requests.length) resolve();
      }
    });
  });
  for (const r of requests) ws.send(r);
  await done;
  ws.close();
  return replies;
}

describe('WebSocket transport', () => {
  it('answers pipelined requests in order with a JSON head and a JPP body', async () => {
    const replies = await exchange([
      '/gray257-n6-defprec-l2.j2k?cnew=http&type=jpp-stream&tid=0&len=0',
      '/gray257-n6-defprec-l2.j2k?fsiz=64,32&qid=2',
      '/gray257-n6-defprec-l2.j2k?fsiz=257,129&qid=3',
    ]);
    assert.deepEqual(replies.map((r) => r.head.seq), [0, 1, 2]);
    assert.deepEqual(replies.map((r) => r.head.status), [200, 200, 200]);
    assert.match(replies[0].head.headers['JPIP-cnew'], /^cid=[0-9a-f]{32},path=jpip,transport=http$/);
    assert.equal(replies[1].head.headers['JPIP-qid'], '2');
    const cache = new DataBinCache();
    for (const ev of parseJppStream(replies[2].body)) if (ev.kind === 'message') cache.add(ev);
    const last = parseJppStream(replies[2].body).pop();
    assert.ok(last?.kind === 'eor' && last.reason === 1);
  });

  it('shares channels with HTTP: a channel opened over WebSocket continues over HTTP without resending', async () => {
    const [open] = await exchange(['/rgb96.jp2?cnew=http&type=jpp-stream&len=0']);
    const cid = /cid=([0-9a-f]+)/.exec(open.head.headers['JPIP-cnew'])?.[1];
    assert.ok(cid);
    const [first] = await exchange([`/jpip?cid=${cid}&fsiz=48,32`]);
    assert.equal(first.head.status, 200);
    assert.ok(first.body.length > 3);
    const s = new JpipSession(srv.base, 'rgb96.jp2');
    s.cid = cid;
    const again = await s.send({ fsiz: '48,32' });
    assert.deepEqual([...again.body], [0x00, 0x02, 0x00], 'the session remembers what the WebSocket request delivered');
    await s.close();
  });

  it('rejects malformed messages with a 4xx head and keeps the socket usable', async () => {
    const replies = await exchange(['not a target', '/nope.jp2?fsiz=1,1', '/rgb96.jp2?fsiz=abc', '/rgb96.jp2?fsiz=48,32&len=100']);
    assert.deepEqual(replies.map((r) => r.head.status), [400, 404, 400, 200]);
    assert.match(new TextDecoder().decode(replies[0].body), /^ERR_MALFORMED_REQUEST: /);
  });

  it('closes (1008) a socket that queues more requests than the bound without reading, and keeps serving others', { timeout: 60_000 }, async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/jpip-ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    // Stop reading: the first whole-image reply (1.7 MB) fills the server's send buffer, so the
    // requests behind it wait in the socket's queue.
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    let binaries = 0;
    ws.on('message', (_d, isBinary) => {
      if (isBinary) binaries++;
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const pad = 'x'.repeat(30_000); // unknown fields are parsed and ignored: requests of ~30 KB
    for (let i = 0; i < 400; i++) ws.send(`/gray4096-rpcl-p128-l8.jp2?fsiz=4096,4096&qid=${i}&pad=${pad}`);
    await new Promise((r) => setTimeout(r, 500));
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    assert.equal(await closed, 1008, 'closed for queueing too much');
    assert.ok(binaries < 400, `${binaries} replies before the close`);
    const replies = await exchange(['/rgb96.jp2?fsiz=48,32&len=100']);
    assert.equal(replies[0].head.status, 200, 'other sockets are served');
  });
});
