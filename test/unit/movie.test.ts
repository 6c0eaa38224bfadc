/**
 * `jpipd movie` internals: the new box writers read back by an independent walker, ISO dates and
 * sorting, the glob segment matcher, frame inspection over the committed fixtures, and the planned
 * movie's exact box structure in linked and embedded mode (built in memory over BufferSources).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BufferSource, be, type ByteSource } from '../../src/bytes/source.js';
import {
  boxHeader,
  dtblBox,
  ftblBox,
  NLST_CODESTREAM,
  NLST_LAYER,
  nlstBox,
  readerRequirementsBox,
  urlBox,
} from '../../src/j2k/box-writer.js';
import { listBoxes } from '../../src/j2k/boxes.js';
import type { BoxRef } from '../../src/j2k/types.js';
import { movieFeatures, planMovie, writeMovie, type MovieMode } from '../../src/movie/build-movie.js';
import { checkSameGeometry, findDate, globSegment, inspectFrame, parseIsoDate, sortFrames, type MovieFrame } from '../../src/movie/frames.js';
import { walk } from '../helpers/box-walk.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
const MOVIE_FRAMES = ['aia_0001.jp2', 'aia_0002.jp2', 'aia_0003.jp2'].map((n) => `movie-frames/${n}`);

const fixture = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(FIXTURES, name)));
const ascii = (b: Uint8Array): string => Buffer.from(b).toString('latin1');


/** The payload of the first top-level box of a type. */
function payloadOf(bytes: Uint8Array, type: string): Uint8Array {
  const b = walk(bytes).find((x) => x.type === type);
  assert.ok(b, `a '${type}' box`);
  return bytes.subarray(b.body, b.end);
}

function buildInMemory(names: string[], mode: MovieMode, urls?: string[]): { movie: Uint8Array; frames: MovieFrame[]; files: Uint8Array[] } {
  const files = names.map(fixture);
  const sources: ByteSource[] = files.map((f) => new BufferSource(f));
  const frames = files.map((f, i) => inspectFrame(sources[i], names[i]));
  const plan = planMovie(frames, sources, { mode, urls: urls ?? names.map((n) => `frames/${n}`) });
  const chunks: Uint8Array[] = [];
  const done: number[] = [];
  writeMovie(plan, sources, (c) => chunks.push(new Uint8Array(c)), (i) => done.push(i));
  assert.deepEqual(done, names.map((_, i) => i), 'onFrame once per frame, in order');
  const movie = new Uint8Array(Buffer.concat(chunks));
  assert.equal(movie.length, plan.size, 'plan.size is the written size');
  return { movie, frames, files };
}

describe('box writers (15444-2 M.11)', () => {
  it('ftbl/flst hold NF = 1 and OFF (u64), LEN (u32), DR (u16)', () => {
    const b = ftblBox([{ OFF: 2 ** 33 + 5, LEN: 0xfffffffe, DR: 7 }]);
    const [ftbl] = walk(b);
    assert.equal(ftbl.type, 'ftbl');
    const [flst] = walk(b, ftbl.body, ftbl.end);
    assert.equal(flst.type, 'flst');
    const body = b.subarray(flst.body, flst.end);
    assert.equal(body.length, 2 + 14);
    assert.equal(be.u16(body, 0), 1);
    assert.equal(be.u64(body, 2), 2 ** 33 + 5);
    assert.equal(be.u32(body, 10), 0xfffffffe);
    assert.equal(be.u16(body, 14), 7);
    assert.throws(() => ftblBox([{ OFF: 0, LEN: 2 ** 32, DR: 1 }]), /32 bits/);
  });

  it('dtbl holds NDR then url boxes of version 0, flags 0 and a NUL-terminated UTF-8 location', () => {
    const b = dtblBox(['frames/a%20b.jp2', 'file:///data/é.jp2']);
    const [dtbl] = walk(b);
    assert.equal(be.u16(b, dtbl.body), 2);
    const urls = walk(b, dtbl.body + 2, dtbl.end);
    assert.deepEqual(urls.map((u) => u.type), ['url ', 'url ']);
    const u1 = b.subarray(urls[1].body, urls[1].end);
    assert.deepEqual([...u1.subarray(0, 4)], [0, 0, 0, 0]);
    assert.equal(u1[u1.length - 1], 0);
    assert.equal(Buffer.from(u1.subarray(4, -1)).toString('utf8'), 'file:///data/é.jp2');
    assert.throws(() => urlBox('a\0b'), /NUL/);
  });

  it('nlst entries: codestream = 0x01000000 | n, compositing layer = 0x02000000 | n', () => {
    const b = nlstBox([NLST_CODESTREAM + 3, NLST_LAYER + 70000]);
    assert.deepEqual([...b.subarray(8)], [0x01, 0, 0, 3, 0x02, 0x01, 0x11, 0x70]);
  });

  it('rreq: ML 1, one mask bit per feature, FUAM all, DCM the display ones, interleaved SF/SM, NVF 0', () => {
    const b = readerRequirementsBox([
      { SF: 5, display: true },
      { SF: 15, display: true },
      { SF: 2, display: false },
    ]);
    assert.deepEqual([...b.subarray(8)], [1, 0xe0, 0xc0, 0, 3, 0, 5, 0x80, 0, 15, 0x40, 0, 2, 0x20, 0, 0]);
  });

  it('boxHeader switches to the XLBox form beyond 32 bits', () => {
    assert.deepEqual([...boxHeader('jp2c', 10)], [0, 0, 0, 18, 0x6a, 0x70, 0x32, 0x63]);
    const h = boxHeader('jp2c', 2 ** 32);
    assert.equal(h.length, 16);
    assert.equal(be.u32(h, 0), 1);
    assert.equal(be.u64(h, 8), 2 ** 32 + 16);
  });
});

describe('dates and sorting', () => {
  it('parses ISO 8601 dates, a missing zone meaning UTC, and rejects impossible ones', () => {
    assert.deepEqual(parseIsoDate('2014-01-01T00:02:00.34'), { ms: Date.UTC(2014, 0, 1, 0, 2, 0) + 340, sub: 0 });
    assert.deepEqual(parseIsoDate('2014-01-01T00:02:00.340Z'), parseIsoDate('2014-01-01T00:02:00.34'));
    assert.deepEqual(parseIsoDate('2014-01-01T01:02:00+01:00'), parseIsoDate('2014-01-01T00:02:00Z'));
    assert.deepEqual(parseIsoDate('2014-01-01'), { ms: Date.UTC(2014, 0, 1), sub: 0 });
    const fine = parseIsoDate('2014-01-01T00:00:00.1234567');
    assert.equal(fine?.ms, Date.UTC(2014, 0, 1) + 123);
    assert.ok(Math.abs((fine?.sub ?? 0) - 0.4567) < 1e-12);
    for (const bad of ['2014-02-30T00:00:00', '2014/01/01', '2014-13-01', '2014-01-01T25:00:00', 'yesterday', '']) assert.equal(parseIsoDate(bad), null, bad);
  });

  it('prefers DATE-OBS, then DATE_OBS, then T_OBS, and skips unparsable values', () => {
    assert.equal(findDate(['<T_OBS>2014-01-01T00:00:09Z</T_OBS><DATE_OBS>2014-01-01T00:00:05</DATE_OBS>'])?.text, '2014-01-01T00:00:05');
    assert.equal(findDate(['<DATE-OBS>junk</DATE-OBS><T_OBS> 2014-01-01T00:00:09Z </T_OBS>'])?.text, '2014-01-01T00:00:09Z');
    assert.equal(findDate(['<a/>', '<fits><DATE-OBS>2014-01-01T00:00:01</DATE-OBS></fits>'])?.text, '2014-01-01T00:00:01');
    assert.equal(findDate(['<fits><DATE>2014-01-01</DATE></fits>']), null);
  });

  it('sorts by file name or by date (ties by name) and names the frames without a date', () => {
    const d = (s: string) => parseIsoDate(s);
    const frames = [
      { name: 'z/b.jp2', date: d('2014-01-01T00:00:00.5') },
      { name: 'a/c.jp2', date: d('2014-01-01T00:00:00.25') },
      { name: 'y/a.jp2', date: d('2014-01-01T00:00:00.5') },
    ];
    assert.deepEqual(sortFrames(frames, 'name').sorted.map((f) => f.name), ['y/a.jp2', 'z/b.jp2', 'a/c.jp2']);
    assert.deepEqual(sortFrames(frames, 'date').sorted.map((f) => f.name), ['a/c.jp2', 'y/a.jp2', 'z/b.jp2']);
    const r = sortFrames([...frames, { name: 'x.jp2', date: null }], 'date');
    assert.deepEqual(r, { sorted: [], undated: ['x.jp2'] });
  });

  it('glob segments: * and ? never match "/" nor a leading dot', () => {
    const re = globSegment('aia_*.jp?');
    assert.ok(re.test('aia_0001.jp2'));
    assert.ok(re.test('aia_.jpx'));
    assert.ok(!re.test('aia_0001.jp22'));
    assert.ok(!re.test('x/aia_1.jp2'));
    assert.ok(!globSegment('*.jp2').test('.hidden.jp2'));
    assert.ok(globSegment('.*.jp2').test('.hidden.jp2'));
    assert.ok(globSegment('a+b(1).jp2').test('a+b(1).jp2'));
  });
});

describe('inspectFrame', () => {
  it('finds the codestream, header boxes, metadata and date of each movie fixture', () => {
    const want = ['2014-01-01T00:02:00.34', '2014-01-01T00:00:00.34', '2014-01-01T00:01:00.35Z'];
    MOVIE_FRAMES.forEach((n, i) => {
      const bytes = fixture(n);
      const f = inspectFrame(new BufferSource(bytes), n);
      const jp2c = walk(bytes).find((b) => b.type === 'jp2c');
      assert.ok(jp2c);
      assert.deepEqual(f.codestream, { offset: jp2c.body, length: jp2c.end - jp2c.body });
      assert.deepEqual([f.width, f.height, f.components], [128, 128, 1]);
      assert.equal(f.dateText, want[i]);
      assert.deepEqual(
        f.metadata.map((b) => b.type),
        walk(bytes).filter((b) => b.type === 'xml ' || b.type === 'asoc').map((b) => b.type),
      );
    });
  });

  it('reads jp2c boxes with XLBox and with LBox = 0', () => {
    const x = inspectFrame(new BufferSource(fixture('rgb96-xlbox.jp2')), 'x');
    assert.deepEqual([x.width, x.height, x.components], [96, 64, 3]);
    const z = fixture('gray128-lbox0.jp2');
    const f = inspectFrame(new BufferSource(z), 'z');
    assert.equal(f.codestream.offset + f.codestream.length, z.length);
    assert.equal(f.date, null);
  });

  it('refuses JPX files, several codestreams and broken boxes, naming the frame', () => {
    assert.throws(() => inspectFrame(new BufferSource(fixture('frames3-128.jpx')), 'm.jpx'), { code: 'ERR_IMAGE_UNSUPPORTED', message: /m\.jpx/ });
    assert.throws(() => inspectFrame(new BufferSource(fixture('two-jp2c.jp2')), 'two.jp2'), { code: 'ERR_IMAGE_CORRUPT', message: /two\.jp2.*exactly one 'jp2c'/ });
    assert.throws(() => inspectFrame(new BufferSource(fixture('corrupt-boxlen.jp2')), 'c.jp2'), { code: 'ERR_IMAGE_CORRUPT' });
    assert.throws(() => inspectFrame(new BufferSource(fixture('gray257-sop.j2k')), 'raw.j2k'), { code: 'ERR_IMAGE_CORRUPT', message: /raw\.j2k/ });
  });

  it('requires the same size and component count in every frame', () => {
    const a = inspectFrame(new BufferSource(fixture('movie-frames/aia_0001.jp2')), 'aia_0001.jp2');
    const b = inspectFrame(new BufferSource(fixture('rgb96.jp2')), 'rgb96.jp2');
    assert.doesNotThrow(() => checkSameGeometry([a, a]));
    assert.throws(() => checkSameGeometry([a, b]), /rgb96\.jp2 is 96x64 with 3 component/);
  });
});

describe('planMovie + writeMovie', () => {
  it('linked: signature, ftyp, rreq, jp2h, then jpch, jplh, asoc, ftbl per frame, then dtbl', () => {
    const { movie, frames, files } = buildInMemory(MOVIE_FRAMES, 'linked');
    const top = walk(movie);
    const perFrame = ['jpch', 'jplh', 'asoc', 'ftbl'];
    assert.deepEqual(
      top.map((b) => b.type),
      ['jP  ', 'ftyp', 'rreq', 'jp2h', ...perFrame, ...perFrame, ...perFrame, 'dtbl'],
    );
    assert.equal(ascii(payloadOf(movie, 'ftyp')), 'jpx \0\0\0\0jpx jp2 jpxb');
    assert.deepEqual(payloadOf(movie, 'rreq'), readerRequirementsBox(movieFeatures(frames, 'linked')).subarray(8));
    const jp2h = walk(files[0]).find((b) => b.type === 'jp2h');
    assert.ok(jp2h);
    assert.deepEqual(payloadOf(movie, 'jp2h'), files[0].subarray(jp2h.body, jp2h.end), 'jp2h copied from the first frame');

    const ftbls = top.filter((b) => b.type === 'ftbl');
    ftbls.forEach((ftbl, i) => {
      const [flst] = walk(movie, ftbl.body, ftbl.end);
      const body = movie.subarray(flst.body, flst.end);
      const OFF = be.u64(body, 2);
      const LEN = be.u32(body, 10);
      const jp2c = walk(files[i]).find((b) => b.type === 'jp2c');
      assert.ok(jp2c);
      assert.deepEqual(files[i].subarray(OFF, OFF + LEN), files[i].subarray(jp2c.body, jp2c.end), `frame ${i}: the fragment is exactly the codestream`);
      assert.deepEqual([be.u16(body, 0), be.u16(body, 14)], [1, i + 1]);
    });
    const dtbl = top[top.length - 1];
    const urls = walk(movie, dtbl.body + 2, dtbl.end).map((u) => ascii(movie.subarray(u.body + 4, u.end - 1)));
    assert.deepEqual(urls, MOVIE_FRAMES.map((n) => `frames/${n}`));
  });

  it('per-frame boxes: jpch holds the ihdr, jplh a cgrp of colr with APPROX 1, asoc an nlst and the XML verbatim', () => {
    const { movie, files } = buildInMemory(MOVIE_FRAMES, 'linked');
    const top = walk(movie);
    const jpchs = top.filter((b) => b.type === 'jpch');
    const jplhs = top.filter((b) => b.type === 'jplh');
    const asocs = top.filter((b) => b.type === 'asoc');
    files.forEach((file, i) => {
      const fjp2h = walk(file).find((b) => b.type === 'jp2h');
      assert.ok(fjp2h);
      const [fihdr, fcolr] = walk(file, fjp2h.body, fjp2h.end);
      const [ihdr] = walk(movie, jpchs[i].body, jpchs[i].end);
      assert.deepEqual(movie.subarray(ihdr.at, ihdr.end), file.subarray(fihdr.at, fihdr.end));
      const [cgrp] = walk(movie, jplhs[i].body, jplhs[i].end);
      assert.equal(cgrp.type, 'cgrp');
      const [colr] = walk(movie, cgrp.body, cgrp.end);
      const want = new Uint8Array(file.subarray(fcolr.at, fcolr.end));
      want[10] = 1; // APPROX 0 (JP2) -> 1 (JPX: accurate)
      assert.deepEqual(movie.subarray(colr.at, colr.end), want);

      const kids = walk(movie, asocs[i].body, asocs[i].end);
      assert.equal(kids[0].type, 'nlst');
      assert.equal(be.u32(movie, kids[0].body), 0x02000000 + i);
      const frameMeta = walk(file).filter((b) => b.type === 'xml ' || b.type === 'asoc');
      assert.deepEqual(kids.slice(1).map((k) => k.type), frameMeta.map((b) => b.type));
      frameMeta.forEach((m, j) => {
        const k = kids[j + 1];
        assert.deepEqual(movie.subarray(k.at, k.end), file.subarray(m.at, m.end), `frame ${i} box ${j} copied byte for byte`);
      });
    });
  });

  it('embed: a jp2c per frame holding the frame codestream, no ftbl and no dtbl', () => {
    const { movie, files } = buildInMemory(MOVIE_FRAMES, 'embed');
    const top = walk(movie);
    assert.deepEqual(top.filter((b) => b.type === 'ftbl' || b.type === 'dtbl'), []);
    const jp2cs = top.filter((b) => b.type === 'jp2c');
    assert.equal(jp2cs.length, 3);
    jp2cs.forEach((b, i) => {
      const f = walk(files[i]).find((x) => x.type === 'jp2c');
      assert.ok(f);
      assert.deepEqual(movie.subarray(b.body, b.end), files[i].subarray(f.body, f.end));
    });
    assert.equal(movieFeatures([], 'embed').some((f) => f.SF === 15), false, 'no fragment feature');
  });

  it('frames without metadata get no asoc; LBox = 0 and XLBox codestreams are linked by payload', () => {
    const { movie, files } = buildInMemory(['gray128-lbox0.jp2', 'gray128-lbox0.jp2'], 'linked');
    const top = walk(movie);
    assert.equal(top.filter((b) => b.type === 'asoc').length, 0);
    const [flst] = walk(movie, top[6].body, top[6].end);
    assert.equal(be.u64(movie, flst.body + 2) + be.u32(movie, flst.body + 10), files[0].length);
  });

  it('refuses to link a codestream of 4 GiB or more, and a linked movie without URLs', () => {
    const src = new BufferSource(fixture('movie-frames/aia_0001.jp2'));
    const f = inspectFrame(src, 'big.jp2');
    const big: MovieFrame = { ...f, codestream: { offset: f.codestream.offset, length: 2 ** 32 } };
    assert.throws(() => planMovie([big], [src], { mode: 'linked', urls: ['big.jp2'] }), { code: 'ERR_IMAGE_LIMIT', message: /big\.jp2.*--embed/ });
    assert.throws(() => planMovie([f], [src], { mode: 'linked' }), /one URL per frame/);
    const plan = planMovie([big], [src], { mode: 'embed' });
    const jp2cHead = plan.frames[0].find((p, i, all) => {
      const next = all[i + 1];
      return p.kind === 'bytes' && next?.kind === 'copy' && next.length === 2 ** 32;
    });
    assert.ok(jp2cHead && jp2cHead.kind === 'bytes');
    assert.equal(be.u32(jp2cHead.bytes, 0), 1, 'an embedded codestream beyond 4 GiB gets an XLBox');
  });

  it('the movie reads back with the project box reader too', () => {
    const { movie } = buildInMemory(MOVIE_FRAMES, 'linked');
    const boxes: BoxRef[] = listBoxes(new BufferSource(movie), 0, movie.length);
    assert.deepEqual(boxes.map((b) => [b.offset, b.length]), walk(movie).map((b) => [b.at, b.end - b.at]));
  });
});
