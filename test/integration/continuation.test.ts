/**
 * `len` continuation through the real server: many small byte-limited responses on one channel
 * carry exactly the bytes of one unlimited response — no gap, no duplicate — and a completed window
 * asked again is answered with a bare EOR: `00 02 00`, or `00 01 00` when it is the whole target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JpipSession } from '../../src/client/session.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

const WINDOWS: Array<{ file: string; fields: Record<string, string>; wholeTarget?: boolean }> = [
  { file: 'gray1000-lrcp-p64-l4.j2k', fields: { fsiz: '500,350', roff: '120,80', rsiz: '200,150' } },
  { file: 'rgb640-mct-pcrl-p64-l3.j2k', fields: { fsiz: '640,480' }, wholeTarget: true },
  { file: 'frames3-128.jpx', fields: { fsiz: '128,128', stream: '0-2' }, wholeTarget: true },
  { file: 'frames3-128.jpx', fields: { fsiz: '128,128', stream: '1' } },
  { file: 'gray1000-tiled-t256-off-pcrl.j2k', fields: { fsiz: '1000,700', roff: '200,100', rsiz: '400,300', layers: '2' } },
];

describe('len continuation', () => {
  for (const w of WINDOWS) {
    for (const len of [97, 1500]) {
      it(`${w.file} in len=${len} pieces equals one unlimited response`, async () => {
        const small = new JpipSession(srv.base, w.file);
        const big = new JpipSession(srv.base, w.file);
        await small.open({ len: 0 });
        await big.open({ len: 0 });
        const pieces = await small.fetchWindow({ ...w.fields, len: String(len) });
        const whole = await big.fetchWindow(w.fields);
        assert.equal(whole.length, 1);
        assert.ok(pieces.length > 1, 'the budget cut the window');
        pieces.slice(0, -1).forEach((r) => assert.equal(r.eor, 4));
        // EOR 1 (image done) when the window is the whole target, else EOR 2 (window done).
        const final = pieces[pieces.length - 1].eor;
        assert.equal(final, whole[0].eor);
        assert.equal(final, w.wholeTarget ? 1 : 2);
        for (const r of pieces) assert.ok(r.events.some((e) => e.kind === 'message' && e.length > 0) || r === pieces[pieces.length - 1], 'every byte-limited response makes progress');
        const keysSmall = small.cache.keys().map((k) => `${k.cls}/${k.codestream}/${k.id}`).sort();
        const keysBig = big.cache.keys().map((k) => `${k.cls}/${k.codestream}/${k.id}`).sort();
        assert.deepEqual(keysSmall, keysBig);
        for (const k of big.cache.keys()) {
          assert.deepEqual(small.cache.get(k), big.cache.get(k));
          assert.equal(small.cache.isComplete(k), big.cache.isComplete(k));
        }
        const s = small.cache.stats();
        assert.equal(s.duplicateMessages, 0);
        assert.equal(s.redundantBytes, 0);
        assert.equal(s.bytes, big.cache.stats().bytes);
        const again = await small.send({ ...w.fields, len: String(len) });
        assert.deepEqual([...again.body], [0x00, final, 0x00]);
        await small.close();
        await big.close();
      });
    }
  }
});
