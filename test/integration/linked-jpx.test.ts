/**
 * Hyperlinked JPX movies (Helioviewer's format): frames in separate JP2 files named by relative or
 * file:// URLs. Each frame is served with its own coding parameters and decodes bit-exactly; frames
 * whose link is missing or leaves the root are errors for that frame only; a JP2 linked from two
 * movies is indexed once; the data reference box sent to clients carries no server path.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { put } from '../../src/bytes/source.js';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { parseJppStream } from '../../src/client/jpp-parser.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { JpipSession } from '../../src/client/session.js';
import { box, concatBytes, ftypBox, ihdrBox, colrBox, signatureBox, xmlBox, ftblBox, dtblBox } from '../../src/j2k/box-writer.js';
import { decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';
import { jp2cBoxes } from '../helpers/boxes.js';
import { slotCount } from '../../src/packet-index/codestream-index.js';
import { SharedPacketIndex } from '../../src/packet-index/shared-index.js';

/** Offset and length of the (first) jp2c payload of a JP2 file. */
const codestreamIn = (bytes: Uint8Array): { offset: number; length: number } => jp2cBoxes(bytes)[0];

const FRAMES = ['rgb96.jp2', 'gray128-lbox0.jp2', 'rgb96-xlbox.jp2'];
let root: string;
let outside: string;
let srv: TestServer;
const frameBytes: Uint8Array[] = [];

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-movie-root-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-movie-outside-'));
  fs.mkdirSync(path.join(root, 'frames'));
  fs.mkdirSync(path.join(root, 'movies'));
  FRAMES.forEach((f, i) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(FIXTURES, f)));
    frameBytes.push(bytes);
    fs.writeFileSync(path.join(root, 'frames', `f${i}.jp2`), bytes);
  });
  fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(outside, 'secret.jp2'));
  const cs = frameBytes.map(codestreamIn);
  const realRoot = fs.realpathSync(root);
  const movie = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
    box('jp2h', ihdrBox(96, 64, 3, 8), colrBox(16)),
    xmlBox('<fits><DATE-OBS>2026-01-01T00:00:00</DATE-OBS></fits>'),
    ftblBox([{ OFF: cs[0].offset, LEN: cs[0].length, DR: 1 }]), // relative URL
    ftblBox([{ OFF: cs[1].offset, LEN: cs[1].length, DR: 2 }]), // absolute file:// URL inside the root
    ftblBox([{ OFF: cs[2].offset, LEN: cs[2].length, DR: 3 }]), // relative, percent-encoded
    ftblBox([{ OFF: 0, LEN: 100, DR: 4 }]), // missing file
    ftblBox([{ OFF: cs[0].offset, LEN: cs[0].length, DR: 5 }]), // outside the root
    dtblBox(['../frames/f0.jp2', `file://${realRoot}/frames/f1.jp2`, '../frames/f%32.jp2', '../frames/missing.jp2', `file://${fs.realpathSync(outside)}/secret.jp2`]),
  );
  fs.writeFileSync(path.join(root, 'movies', 'movie.jpx'), movie);
  const movie2 = concatBytes(signatureBox(), ftypBox('jpx ', 0, ['jpx ']), ftblBox([{ OFF: cs[0].offset, LEN: cs[0].length, DR: 1 }]), dtblBox(['../frames/f0.jp2']));
  fs.writeFileSync(path.join(root, 'movies', 'other.jpx'), movie2);
  srv = await startTestServer({ root });
});
after(async () => {
  await srv.stop();
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

function samePixels(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height && a.pixels.length === b.pixels.length && a.pixels.every((v, i) => v === b.pixels[i]);
}

describe('hyperlinked JPX', () => {
  it('serves every linked frame with its own coding parameters, bit-exactly', async () => {
    const sizes = [
      [96, 64],
      [128, 128],
      [96, 64],
    ];
    for (let i = 0; i < 3; i++) {
      const s = new JpipSession(srv.base, 'movies/movie.jpx');
      await s.open({ len: 0 });
      const r = await s.fetchWindow({ stream: i, fsiz: `${sizes[i][0]},${sizes[i][1]}` });
      assert.equal(r[r.length - 1].headers.get('jpip-fsiz'), null, `frame ${i} has its own size`);
      const got = await decodeJ2k(reassembleCodestream(s.cache, i));
      const cs = codestreamIn(frameBytes[i]);
      const want = await decodeJ2k(frameBytes[i].subarray(cs.offset, cs.offset + cs.length));
      assert.ok(samePixels(got, want), `frame ${i} identical`);
      await s.close();
    }
  });

  it('context=jpxl<1> gives the same bytes as stream=1', async () => {
    const a = await fetch(`${srv.base}/movies/movie.jpx?context=jpxl<1-1>&fsiz=128,128`);
    const b = await fetch(`${srv.base}/movies/movie.jpx?stream=1&fsiz=128,128`);
    assert.deepEqual(new Uint8Array(await a.arrayBuffer()), new Uint8Array(await b.arrayBuffer()));
  });

  it('answers a missing or escaping frame with an error for that frame, and serves the others of a range', async () => {
    for (const n of [3, 4]) {
      const r = await fetch(`${srv.base}/movies/movie.jpx?stream=${n}&fsiz=96,64`);
      const text = await r.text();
      assert.equal(r.status, 404);
      assert.match(text, new RegExp(`frame ${n}: linked file not found`));
      assert.ok(!text.includes(outside) && !text.includes(root));
    }
    const range = await fetch(`${srv.base}/movies/movie.jpx?stream=0-4&fsiz=96,64&len=100000`);
    assert.equal(range.status, 200);
    assert.equal(range.headers.get('jpip-stream'), '0,1,2');
    const events = parseJppStream(new Uint8Array(await range.arrayBuffer()));
    const streams = new Set(events.flatMap((e) => (e.kind === 'message' && e.cls !== 8 ? [e.codestream] : [])));
    assert.deepEqual([...streams].sort(), [0, 1, 2]);
  });

  it('sends metadata-bin 0 with a placeholder per frame, the XML in its own bin, and no server path', async () => {
    const r = await fetch(`${srv.base}/movies/movie.jpx?metareq=[*]!!&type=jpp-stream`);
    const cache = new DataBinCache();
    for (const e of parseJppStream(new Uint8Array(await r.arrayBuffer()))) if (e.kind === 'message') cache.add(e);
    const bin0 = cache.get({ cls: 8, codestream: 0, id: 0 });
    assert.ok(cache.isComplete({ cls: 8, codestream: 0, id: 0 }));
    const text = Buffer.from(bin0).toString('latin1');
    assert.equal(text.split('phld').length - 1, 6, 'one placeholder per ftbl, one for the xml box');
    assert.ok(!text.includes(fs.realpathSync(root)) && !text.includes(fs.realpathSync(outside)), 'no absolute server path');
    assert.ok(text.includes('../frames/f1.jp2'), 'absolute link rewritten relative to the movie');
    assert.ok(cache.isComplete({ cls: 8, codestream: 0, id: 1 }));
    assert.equal(Buffer.from(cache.get({ cls: 8, codestream: 0, id: 1 })).toString(), '<fits><DATE-OBS>2026-01-01T00:00:00</DATE-OBS></fits>', 'XML box contents, byte for byte');
  });

  it('indexes a JP2 linked from two movies once', async () => {
    const realRoot = fs.realpathSync(root);
    const sessions = [new JpipSession(srv.base, 'movies/movie.jpx'), new JpipSession(srv.base, 'movies/other.jpx')];
    for (const s of sessions) {
      await s.open({ len: 0 });
      const r = await s.fetchWindow({ stream: 0, fsiz: '96,64' });
      assert.equal(r[r.length - 1].status, 200);
    }
    // One opened version of the frame file, one shared index table for its codestream, used by both sessions.
    const frame = srv.service.catalog.open('frames/f0.jp2', path.join(realRoot, 'frames/f0.jp2'));
    assert.equal(srv.registry.refs(frame.key), 2, 'both movies\' sessions use the one frame version');
    const table = srv.registry.table(frame.key, 0, slotCount(frame.layout.codestreams[0]));
    assert.ok(SharedPacketIndex.attach(table).levelsIndexed() > 0, 'the one table the requests indexed (asking again makes no new one)');
    for (const s of sessions) await s.close();
    assert.equal(srv.registry.refs(frame.key), 0);
  });
});
