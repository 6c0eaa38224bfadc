/**
 * Bit-exact interop: windows fetched through the real server (127.0.0.1, worker threads) with the
 * client library, reassembled into a codestream, decoded with OpenJPEG (wasm), and compared with the
 * decode of the original file at the same resolution: the window's pixels must be identical once all
 * its data has arrived — including interior windows (esajpip's never become exact).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { JpipSession } from '../../src/client/session.js';
import type { BinKey } from '../../src/client/databin-cache.js';
import { assertSamePixels, cropPixels, decodeJ2k, decodeWithOpjDecompress, type DecodedImage } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';
import { jp2cBoxes } from '../helpers/boxes.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

/** The raw codestream of a fixture (JP2/JPX: the bytes of its n-th jp2c box). */
function codestreamOf(file: string, n = 0): Uint8Array {
  const bytes = new Uint8Array(fs.readFileSync(path.join(FIXTURES, file)));
  if (bytes[0] === 0xff && bytes[1] === 0x4f) return bytes;
  const box = jp2cBoxes(bytes)[n];
  if (!box) throw new Error(`no codestream ${n} in ${file}`);
  return box.payload;
}

const originals = new Map<string, DecodedImage>();
async function original(file: string, reduce: number, cs = 0): Promise<DecodedImage> {
  const k = `${file}|${reduce}|${cs}`;
  let img = originals.get(k);
  if (!img) originals.set(k, (img = await decodeJ2k(codestreamOf(file, cs), reduce)));
  return img;
}

/** Fetches a window to completion on a fresh channel and decodes the reassembled codestream. */
async function fetchAndDecode(file: string, fields: Record<string, string | number>, reduce: number, cs = 0): Promise<{ img: DecodedImage; session: JpipSession }> {
  const session = new JpipSession(srv.base, file);
  await session.open({ len: 0 });
  await session.fetchWindow({ stream: cs, ...fields });
  await session.close();
  const img = await decodeJ2k(reassembleCodestream(session.cache, cs), reduce);
  return { img, session };
}

const CASES: Array<{ file: string; w: number; h: number }> = [
  { file: 'gray1000-rpcl-p64-l4.j2k', w: 1000, h: 700 },
  { file: 'gray1000-lrcp-p64-l4.j2k', w: 1000, h: 700 },
  { file: 'gray1000-rlcp-p64-l4.j2k', w: 1000, h: 700 },
  { file: 'gray1000-pcrl-p64-l4.j2k', w: 1000, h: 700 },
  { file: 'gray1000-cprl-p64-l4.j2k', w: 1000, h: 700 },
  { file: 'gray1000-irrev97-rpcl-p128-l3.j2k', w: 1000, h: 700 },
  { file: 'gray1000-tiled-t256-off-pcrl.j2k', w: 1000, h: 700 }, // image offset 37,23 on the canvas
  { file: 'gray1000-t512-tpr-rpcl.j2k', w: 1000, h: 700 },
  { file: 'gray1000-poc-rpcl-lrcp.j2k', w: 1000, h: 700 },
  { file: 'rgb640-mct-pcrl-p64-l3.j2k', w: 640, h: 480 },
  { file: 'gray257-n6-defprec-l2.j2k', w: 257, h: 129 },
  { file: 'gray257-eph-tlm.j2k', w: 257, h: 129 },
  { file: 'rgb96.jp2', w: 96, h: 64 },
  // Without PLT (packets found by decoding their headers), and with SOP segments (left out of the bins).
  { file: 'gray1000-noplt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-lrcp-noplt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-cprl-noplt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-tiled-off-pcrl-noplt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-t512-tpr-noplt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-poc-noplt.j2k', w: 1000, h: 700 },
  { file: 'rgb640-mct-rlcp-noplt.j2k', w: 640, h: 480 },
  { file: 'gray257-sop.j2k', w: 257, h: 129 },
  { file: 'gray257-sop-eph-lrcp-noplt.j2k', w: 257, h: 129 },
  { file: 'gray257-bypass-noplt.j2k', w: 257, h: 129 },
  { file: 'gray257-bypass-termall-l3.j2k', w: 257, h: 129 },
  // Packed packet headers (PPT per tile-part, PPM in the main header, PPM with SOP and EPH): served
  // with each header in front of its body in the precinct data-bins.
  { file: 'gray1000-t512-tpr-ppt.j2k', w: 1000, h: 700 },
  { file: 'gray1000-t512-tpr-ppm.j2k', w: 1000, h: 700 },
  { file: 'gray257-sop-eph-ppm.j2k', w: 257, h: 129 },
  // HTJ2K (15444-15), as OpenJPH writes it: no PLT.
  { file: 'gray257-htj2k-rpcl-p32.j2k', w: 257, h: 129 },
  { file: 'rgb640-htj2k-lossy-lrcp-t256.j2k', w: 640, h: 480 },
];

describe('full frames are bit-exact', () => {
  for (const c of CASES) {
    it(`${c.file} at full resolution`, async () => {
      const { img, session } = await fetchAndDecode(c.file, { fsiz: `${c.w},${c.h}` }, 0);
      assertSamePixels(img, await original(c.file, 0), c.file);
      assert.equal(session.cache.stats().duplicateMessages, 0);
    });
  }
});

describe('interior windows are bit-exact once complete', () => {
  for (const c of CASES) {
    it(`${c.file}: an interior window at one discarded level`, async () => {
      const fw = Math.ceil(c.w / 2);
      const fh = Math.ceil(c.h / 2);
      const x = Math.floor(fw * 0.3);
      const y = Math.floor(fh * 0.35);
      const w = Math.max(1, Math.floor(fw * 0.3));
      const h = Math.max(1, Math.floor(fh * 0.25));
      const full = await original(c.file, 1);
      // The decoder's output may start at the canvas origin rather than the image offset: shift by the difference.
      const dx = full.width - fw;
      const dy = full.height - fh;
      assert.ok(dx >= 0 && dy >= 0);
      const { img } = await fetchAndDecode(c.file, { fsiz: `${fw},${fh}`, roff: `${x},${y}`, rsiz: `${w},${h}`, len: 4096 }, 1);
      assertSamePixels(cropPixels(img, x + dx, y + dy, w, h), cropPixels(full, x + dx, y + dy, w, h), `${c.file} window`);
    });
  }
});

describe('files without PLT', () => {
  it('give byte-identical responses to the same image with PLT, request after request', async () => {
    const bodies = async (file: string): Promise<Buffer[]> => {
      const out: Buffer[] = [];
      const open = await fetch(`${srv.base}/${file}?cnew=http&type=jpp-stream&stream=0&fsiz=125,88&len=2000`);
      out.push(Buffer.from(await open.arrayBuffer()));
      const cid = (open.headers.get('jpip-cnew') ?? '').match(/cid=([^,]+)/)?.[1];
      assert.ok(cid, 'a channel was opened');
      for (const q of ['fsiz=500,350&roff=100,80&rsiz=200,150&len=5000', 'fsiz=1000,700&roff=300,200&rsiz=400,300&len=30000', 'fsiz=1000,700&len=1000000']) {
        const r = await fetch(`${srv.base}/jpip?cid=${cid}&stream=0&${q}`);
        assert.equal(r.status, 200);
        out.push(Buffer.from(await r.arrayBuffer()));
      }
      await (await fetch(`${srv.base}/jpip?cid=${cid}&cclose=${cid}&len=0`)).arrayBuffer();
      return out;
    };
    const withPlt = await bodies('gray1000-rpcl-p64-l4.j2k');
    const without = await bodies('gray1000-noplt.j2k');
    assert.equal(without.length, withPlt.length);
    for (let i = 0; i < withPlt.length; i++) assert.ok(without[i].equals(withPlt[i]), `response ${i} differs (${without[i].length} vs ${withPlt[i].length} bytes)`);
    assert.ok(withPlt[3].length > 20_000, `the last response carries the rest of the image (${withPlt[3].length} bytes)`);
  });
});

describe('packed packet headers (PPM, PPT)', () => {
  it('give the data-bins of the same image with in-line headers, and no PPM/PPT in the header bins', async () => {
    const bins = async (file: string): Promise<JpipSession> => {
      const session = new JpipSession(srv.base, file);
      await session.open({ len: 0 });
      await session.fetchWindow({ stream: 0, fsiz: '1000,700', len: 300_000 });
      await session.close();
      return session;
    };
    const inline = await bins('gray1000-t512-tpr-noplt.j2k');
    for (const file of ['gray1000-t512-tpr-ppt.j2k', 'gray1000-t512-tpr-ppm.j2k']) {
      const packed = await bins(file);
      const name = (k: BinKey): string => `${k.cls}/${k.codestream}/${k.id}`;
      const keys = inline.cache.keys();
      assert.deepEqual(packed.cache.keys().map(name).sort(), keys.map(name).sort(), `${file}: the same data-bins`);
      let precincts = 0;
      for (const k of keys) {
        assert.deepEqual(packed.cache.get(k), inline.cache.get(k), `${file}: data-bin ${name(k)}`);
        assert.equal(packed.cache.isComplete(k), inline.cache.isComplete(k), `${file}: data-bin ${name(k)} completeness`);
        if (k.cls === 0) precincts++;
      }
      assert.ok(keys.length > 100, `${file}: ${keys.length} data-bins compared (${precincts} precincts)`);
    }
  });
});

describe('JPX codestreams', () => {
  for (const cs of [0, 1, 2]) {
    it(`frames3-128.jpx codestream ${cs}`, async () => {
      const { img } = await fetchAndDecode('frames3-128.jpx', { fsiz: '128,128' }, 0, cs);
      assertSamePixels(img, await original('frames3-128.jpx', 0, cs), `frame ${cs}`);
    });
  }
});

describe("the ESA paper's zoom sequence on a 4096x4096 image", () => {
  it('(0,0,512,512,d3), (512,512,512,512,d2), (1024,1024,512,512,d1) on one channel, each window exact', async () => {
    const file = 'gray4096-rpcl-p128-l8.jp2';
    const session = new JpipSession(srv.base, file);
    await session.open({ len: 0 });
    for (const [x, y, w, h, d] of [
      [0, 0, 512, 512, 3],
      [512, 512, 512, 512, 2],
      [1024, 1024, 512, 512, 1],
    ]) {
      const f = 4096 / 2 ** d;
      await session.fetchWindow({ fsiz: `${f},${f}`, roff: `${x},${y}`, rsiz: `${w},${h}`, len: 200000 });
      const img = await decodeJ2k(reassembleCodestream(session.cache, 0), d);
      const want = await original(file, d);
      assertSamePixels(cropPixels(img, x, y, w, h), cropPixels(want, x, y, w, h), `window d=${d}`);
    }
    assert.equal(session.cache.stats().duplicateMessages, 0);
    await session.close();
  });

  it('opj_decompress agrees with the wasm decoder on the original (when installed)', async (t) => {
    const ref = await decodeWithOpjDecompress(path.join(FIXTURES, 'gray1000-rpcl-p64-l4.j2k'), 1);
    if (!ref) return t.skip('opj_decompress not installed');
    assertSamePixels(await original('gray1000-rpcl-p64-l4.j2k', 1), ref, 'wasm vs opj_decompress');
  });
});

describe('opj_decompress on what the server sent (when installed)', () => {
  for (const file of ['gray1000-lrcp-p64-l4.j2k', 'rgb640-mct-pcrl-p64-l3.j2k', 'gray1000-tiled-t256-off-pcrl.j2k']) {
    it(`${file}: an interior window decodes identically with opj_decompress`, async (t) => {
      if (!(await decodeWithOpjDecompress(path.join(FIXTURES, 'rgb96.jp2'), 0))) return t.skip('opj_decompress not installed');
      const session = new JpipSession(srv.base, file);
      await session.open({ len: 0 });
      const fw = 320;
      const fh = 240;
      const frame = file.startsWith('rgb') ? { w: 320, h: 240 } : { w: 500, h: 350 };
      await session.fetchWindow({ fsiz: `${frame.w},${frame.h}`, roff: '40,30', rsiz: `${fw / 2},${fh / 2}`, len: 6000 });
      await session.close();
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-opj-'));
      try {
        const j2k = path.join(tmp, 'window.j2k');
        fs.writeFileSync(j2k, reassembleCodestream(session.cache, 0));
        const got = await decodeWithOpjDecompress(j2k, 1);
        const want = await decodeWithOpjDecompress(path.join(FIXTURES, file), 1);
        assert.ok(got && want);
        const dx = want.width - frame.w;
        const dy = want.height - frame.h;
        assertSamePixels(cropPixels(got, 40 + dx, 30 + dy, fw / 2, fh / 2), cropPixels(want, 40 + dx, 30 + dy, fw / 2, fh / 2), `${file} via opj_decompress`);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
