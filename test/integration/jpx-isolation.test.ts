/**
 * Per-codestream isolation in a JPX (issue: serve every JPEG 2000 file): a movie whose second
 * codestream has no PLT and whose third is truncated serves the first two — bit-exact — and a
 * request touching the third gets a clear error for that codestream only.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { JpipSession } from '../../src/client/session.js';
import { box, concatBytes, ftypBox, ihdrBox, colrBox, rreqBox, signatureBox } from '../../src/j2k/box-writer.js';
import { jp2cBoxes } from '../helpers/boxes.js';
import { decodeJ2k } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const read = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(FIXTURES, name)));
const withPlt = jp2cBoxes(read('frames3-128.jpx'))[0].payload;
const noPlt = read('gray257-bypass-noplt.j2k');
const truncated = read('gray257-truncated.j2k');

let srv: TestServer;
let root: string;
before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-jpx-iso-'));
  const jpx = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
    rreqBox(),
    box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(17)),
    box('jp2c', withPlt),
    box('jp2c', noPlt),
    box('jp2c', truncated),
  );
  fs.writeFileSync(path.join(root, 'mixed.jpx'), jpx);
  srv = await startTestServer({ root });
});
after(async () => {
  await srv.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a JPX with one good, one PLT-less and one truncated codestream', () => {
  for (const [cs, bytes, w, h] of [
    [0, withPlt, 128, 128],
    [1, noPlt, 257, 129],
  ] as const) {
    it(`serves codestream ${cs} bit-exactly`, async () => {
      const s = new JpipSession(srv.base, 'mixed.jpx');
      await s.open({ len: 0 });
      await s.fetchWindow({ stream: cs, fsiz: `${w},${h}` });
      await s.close();
      const got = await decodeJ2k(reassembleCodestream(s.cache, cs));
      const want = await decodeJ2k(bytes);
      assert.deepEqual(Buffer.from(got.pixels.buffer, got.pixels.byteOffset, got.pixels.byteLength), Buffer.from(want.pixels.buffer, want.pixels.byteOffset, want.pixels.byteLength));
    });
  }

  it('answers a request for the truncated codestream with a clear error for it', async () => {
    const r = await fetch(`${srv.base}/mixed.jpx?stream=2&fsiz=64,64&len=1000`);
    assert.equal(r.status, 415);
    const text = await r.text();
    assert.match(text, /codestream 2/);
    assert.doesNotMatch(text, new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no server path');
  });

  it('serves the others when a request spans all three, and says which it served', async () => {
    const r = await fetch(`${srv.base}/mixed.jpx?stream=0-2&fsiz=64,64&len=100000`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('jpip-stream'), '0,1');
    assert.ok((await r.arrayBuffer()).byteLength > 1000);
  });
});
