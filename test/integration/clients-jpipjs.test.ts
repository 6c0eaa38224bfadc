/**
 * jpip.js (Freek Verstringe) replayed byte for byte against the real server (notes §1.6, §2.4, §9.4)
 * on a Helioviewer-style linked JPX movie built in a temporary root: the opening request
 * `?len=40000000&metareq=[*]!!&type=jpp-stream&cnew=http&tid=0` must bring the whole metadata-bin 0
 * in that one response (with JPIP-cnew readable cross-origin); then per frame i the request
 * `//jpip?cid=C&fsiz=S,S&roff=0,0&rsiz=S,S&len=40000&context=jpxl<i-i>` is repeated until the body
 * is 3 bytes or less, so a finished window must be answered with exactly `00 02 00`; close with
 * `jpip?cclose=C&len=0`. Every frame is decoded with OpenJPEG and compared bit-exactly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { put } from '../../src/bytes/source.js';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { box, colrBox, concatBytes, ftypBox, ihdrBox, signatureBox, xmlBox, ftblBox, dtblBox } from '../../src/j2k/box-writer.js';
import { decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { RawConnection, anyHeader, browserHeaders, buildRequest, cidOf, hex, parseJppBody, type RawResponse } from '../helpers/raw-http.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const FRAMES = ['gray1000-rpcl-p64-l4.j2k', 'gray1000-lrcp-p64-l4.j2k', 'gray1000-pcrl-p64-l4.j2k'];
const MOVIE = 'movies/aia.jpx';
let root: string;
let srv: TestServer;
let hostPort: string;
const codestreams: Uint8Array[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-jpipjs-root-'));
  fs.mkdirSync(path.join(root, 'frames'));
  fs.mkdirSync(path.join(root, 'movies'));
  const links: Uint8Array[] = [];
  FRAMES.forEach((f, i) => {
    const cs = new Uint8Array(fs.readFileSync(path.join(FIXTURES, f)));
    codestreams.push(cs);
    const head = concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(1000, 700, 1, 8), colrBox(17)), xmlBox(`<meta><fits><T>${i}</T></fits></meta>`));
    fs.writeFileSync(path.join(root, 'frames', `aia_${i}.jp2`), concatBytes(head, box('jp2c', cs)));
    links.push(ftblBox([{ OFF: head.length + 8, LEN: cs.length, DR: i + 1 }]));
  });
  const movie = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
    box('jp2h', ihdrBox(1000, 700, 1, 8), colrBox(17)),
    ...FRAMES.map((_, i) => xmlBox(`<meta><fits><DATE-OBS>2026-02-0${i + 1}</DATE-OBS></fits></meta>`)),
    ...links,
    dtblBox(FRAMES.map((_, i) => `../frames/aia_${i}.jp2`)),
  );
  fs.writeFileSync(path.join(root, MOVIE), movie);
  srv = await startTestServer({ root });
  hostPort = `127.0.0.1:${srv.port}`;
});
after(async () => {
  await srv.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** jpip.js's XMLHttpRequest GET, path written exactly as it builds it. */
function xhr(pathAndQuery: string): string {
  return buildRequest('GET', pathAndQuery, browserHeaders(hostPort));
}

function show(req: string, r: RawResponse): string {
  return `${req.split('\r\n')[0]} → ${r.statusLine} | ${r.headerLines.join(' | ')} | body ${hex(r.body, 24)}`;
}

function samePixels(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height && a.pixels.length === b.pixels.length && a.pixels.every((v, i) => v === b.pixels[i]);
}

describe('jpip.js', () => {
  it('gets the whole metadata-bin 0 in its first response, then each frame until exactly 00 02 00, bit-exactly', { timeout: 20_000 }, async () => {
    const conn = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const open = xhr(`/${MOVIE}?len=40000000&metareq=[*]!!&type=jpp-stream&cnew=http&tid=0`);
      await conn.write(open);
      const r0 = await conn.readResponse();
      assert.equal(r0.status, 200, show(open, r0));
      assert.equal(anyHeader(r0, 'access-control-allow-origin'), '*');
      assert.ok((anyHeader(r0, 'access-control-expose-headers') ?? '').split(',').includes('JPIP-cnew'), 'JPIP-cnew readable cross-origin');
      const cid = cidOf(anyHeader(r0, 'jpip-cnew'));
      const first = parseJppBody(r0.body);
      assert.ok(first.endsWithEor);
      for (const m of first.messages) cache.add(m);
      const bin0 = { cls: 8, codestream: 0, id: 0 };
      assert.ok(cache.isComplete(bin0), `metadata-bin 0 complete in the first response: ${show(open, r0)}`);
      const text = Buffer.from(cache.get(bin0)).toString('latin1');
      assert.ok(text.includes('dtbl'), 'the dtbl box jpip.js looks for is in metadata-bin 0');
      for (let i = 0; i < FRAMES.length; i++) {
        const req = xhr(`//jpip?cid=${cid}&fsiz=1000,1000&roff=0,0&rsiz=1000,1000&len=40000&context=jpxl<${i}-${i}>`);
        const bodies: Uint8Array[] = [];
        for (;;) {
          assert.ok(bodies.length < 30, `frame ${i}: bounded`);
          const before = cache.stats();
          await conn.write(req);
          const r = await conn.readResponse();
          assert.equal(r.status, 200, show(req, r));
          bodies.push(r.body);
          if (r.body.length <= 3) break;
          const jpp = parseJppBody(r.body);
          assert.ok(jpp.endsWithEor && jpp.eorCount === 1, show(req, r));
          for (const m of jpp.messages) {
            assert.equal(m.codestream, i, `context=jpxl<${i}-${i}>: only codestream ${i}: ${show(req, r)}`);
            cache.add(m);
          }
          const now = cache.stats();
          assert.ok(now.bytes > before.bytes || now.completeBins > before.completeBins, `a body longer than 3 bytes brought nothing new: ${show(req, r)}`);
        }
        assert.deepEqual([...bodies[bodies.length - 1]], [0x00, 0x02, 0x00], `frame ${i}: a complete window is answered with exactly 00 02 00`);
        assert.ok(bodies.length >= 3, `frame ${i}: len=40000 needs several responses (${bodies.length})`);
        // The response that completed the window ended with EOR 2 (or 1); the next one is the bare EOR.
        const last = parseJppBody(bodies[bodies.length - 2]);
        assert.ok(last.eor === 2 || last.eor === 1, `frame ${i}: completing response EOR ${last.eor}`);
        const got = await decodeJ2k(reassembleCodestream(cache, i));
        const want = await decodeJ2k(codestreams[i]);
        assert.ok(samePixels(got, want), `frame ${i} decodes bit-exactly`);
      }
      const close = xhr(`/jpip?cclose=${cid}&len=0`);
      await conn.write(close);
      const rc = await conn.readResponse();
      assert.equal(rc.status, 200, show(close, rc));
      assert.equal(anyHeader(rc, 'access-control-allow-origin'), '*');
    } finally {
      conn.destroy();
    }
  });
});
