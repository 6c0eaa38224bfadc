import { test } from 'node:test';
import assert from 'node:assert/strict';
import { put } from '../../src/bytes/source.js';
import { JpipdError, type ErrorCode } from '../../src/errors.js';
import { checkQcc, parseCoc, parseCod, parsePltHeader, parsePoc, parseSiz, parseSot } from '../../src/j2k/segments.js';
import { Progression } from '../../src/j2k/types.js';

const fails = (code: ErrorCode) => (e: unknown) => e instanceof JpipdError && e.code === code;

/** SIZ segment bytes from Lsiz on (15444-1 A.5.1), built field by field. */
function siz(f: Partial<Record<'Xsiz' | 'Ysiz' | 'XOsiz' | 'YOsiz' | 'XTsiz' | 'YTsiz' | 'XTOsiz' | 'YTOsiz', number>> & { comps?: number[][]; Csiz?: number } = {}): Uint8Array {
  const comps = f.comps ?? [[7, 1, 1]];
  const b = new Uint8Array(38 + 3 * comps.length);
  put.u16(b, 0, b.length);
  put.u16(b, 2, 0);
  const v = { Xsiz: 100, Ysiz: 80, XOsiz: 0, YOsiz: 0, XTsiz: 100, YTsiz: 80, XTOsiz: 0, YTOsiz: 0, ...f };
  [v.Xsiz, v.Ysiz, v.XOsiz, v.YOsiz, v.XTsiz, v.YTsiz, v.XTOsiz, v.YTOsiz].forEach((x, i) => put.u32(b, 4 + 4 * i, x));
  put.u16(b, 36, f.Csiz ?? comps.length);
  comps.forEach((c, i) => b.set(c, 38 + 3 * i));
  return b;
}

test('SIZ: fields, signedness, precision', () => {
  const s = parseSiz(siz({ Xsiz: 4000000000, Ysiz: 3, XTsiz: 4000000000, comps: [[0x8f, 1, 2], [0x07, 3, 1]] }));
  assert.equal(s.Xsiz, 4000000000);
  assert.equal(s.Csiz, 2);
  assert.deepEqual(s.components, [
    { precision: 16, signed: true, XRsiz: 1, YRsiz: 2 },
    { precision: 8, signed: false, XRsiz: 3, YRsiz: 1 },
  ]);
});

test('SIZ: bounds', () => {
  const bad = (b: Uint8Array, code: ErrorCode = 'ERR_IMAGE_CORRUPT') => assert.throws(() => parseSiz(b), fails(code));
  bad(siz({ Csiz: 0 }));
  bad(siz({ Csiz: 2 })); // Lsiz disagrees with Csiz
  bad(siz({ XOsiz: 100 }));
  bad(siz({ XTsiz: 0 }));
  bad(siz({ XOsiz: 5, XTOsiz: 6, Xsiz: 100 }));
  bad(siz({ XOsiz: 50, XTOsiz: 0, XTsiz: 50 })); // first tile misses the image
  bad(siz({ comps: [[7, 0, 1]] }));
  bad(siz({ comps: [[40, 1, 1]] })); // 41 bits
  bad(siz({ Xsiz: 70000, Ysiz: 70000, XTsiz: 256, YTsiz: 256 }), 'ERR_IMAGE_LIMIT'); // 274^2 tiles
  bad(siz().subarray(0, 30));
  assert.equal(parseSiz(siz({ Xsiz: 65535 * 4, Ysiz: 4, XTsiz: 4, YTsiz: 4 })).XTsiz, 4); // exactly 65535 tiles
});

test('COD: flags, layers, code-block exponents, precincts', () => {
  const c = parseCod(Uint8Array.of(0, 16, 0x07, 0x02, 0x01, 0x00, 0x01, 3, 3, 2, 0x40, 0, 0x21, 0x43, 0x65, 0x87));
  assert.deepEqual(c.cod, { sop: true, eph: true, progression: Progression.RPCL, layers: 256, mct: 1 });
  assert.equal(c.style.NL, 3);
  assert.equal(c.style.xcb, 5);
  assert.equal(c.style.ycb, 4);
  assert.equal(c.style.cbStyle, 0x40);
  assert.equal(c.style.transform, 0);
  assert.deepEqual(c.style.precincts, [{ PPx: 1, PPy: 2 }, { PPx: 3, PPy: 4 }, { PPx: 5, PPy: 6 }, { PPx: 7, PPy: 8 }]);
  const d = parseCod(Uint8Array.of(0, 12, 0, 0, 0, 1, 0, 5, 4, 4, 0, 1));
  assert.equal(d.style.userPrecincts, false);
  assert.equal(d.style.precincts.length, 6);
  assert.ok(d.style.precincts.every((p) => p.PPx === 15 && p.PPy === 15));
});

test('COD: bounds', () => {
  const bad = (b: number[], code: ErrorCode = 'ERR_IMAGE_CORRUPT') => assert.throws(() => parseCod(Uint8Array.from(b)), fails(code));
  bad([0, 12, 0, 5, 0, 1, 0, 5, 4, 4, 0, 1]); // progression 5
  bad([0, 12, 0, 0, 0, 0, 0, 5, 4, 4, 0, 1]); // zero layers
  bad([0, 12, 0, 0, 0, 1, 0, 33, 4, 4, 0, 1]); // NL 33
  bad([0, 12, 0, 0, 0, 1, 0, 5, 5, 4, 0, 1]); // 2^7 x 2^6 code-blocks: xcb + ycb > 12
  bad([0, 12, 0, 0, 0, 1, 0, 5, 9, 0, 0, 1]); // xcb 11
  bad([0, 12, 1, 0, 0, 1, 0, 5, 4, 4, 0, 1]); // precinct bytes missing
  bad([0, 13, 0, 0, 0, 1, 0, 5, 4, 4, 0, 1, 0]); // trailing byte
  bad([0, 12, 0, 0, 0, 1, 0, 5, 4, 4, 0, 2], 'ERR_IMAGE_UNSUPPORTED'); // Part 2 kernel
  bad([0, 12, 8, 0, 0, 1, 0, 5, 4, 4, 0, 1], 'ERR_IMAGE_UNSUPPORTED'); // Part 2 Scod bits
});

test('COC: 1-byte component index below 257 components, 2 bytes from 257', () => {
  const one = parseCoc(Uint8Array.of(0, 9, 2, 0, 1, 4, 4, 0, 1), 3);
  assert.equal(one.c, 2);
  assert.equal(one.style.NL, 1);
  const two = parseCoc(Uint8Array.of(0, 11, 0x01, 0x02, 1, 1, 4, 4, 0, 1, 0x33, 0x44), 300);
  assert.equal(two.c, 258);
  assert.deepEqual(two.style.precincts, [{ PPx: 3, PPy: 3 }, { PPx: 4, PPy: 4 }]);
  assert.throws(() => parseCoc(Uint8Array.of(0, 9, 3, 0, 1, 4, 4, 0, 1), 3), fails('ERR_IMAGE_CORRUPT'));
  assert.throws(() => parseCoc(Uint8Array.of(0, 10, 0x01, 0x2c, 0, 1, 4, 4, 0, 1), 300), fails('ERR_IMAGE_CORRUPT'));
  assert.equal(checkQcc(Uint8Array.of(0, 6, 0x01, 0x00, 0, 0), 300), 256);
  assert.throws(() => checkQcc(Uint8Array.of(0, 5, 5, 0, 0), 3), fails('ERR_IMAGE_CORRUPT'));
});

test('POC: several entries, CEpoc 0 means 256, 2-byte component fields', () => {
  const p = parsePoc(Uint8Array.of(0, 16, 0, 0, 0, 2, 3, 1, 2, 3, 0, 0, 4, 6, 0, 3), 3);
  assert.deepEqual(p, [
    { RSpoc: 0, CSpoc: 0, LYEpoc: 2, REpoc: 3, CEpoc: 1, Ppoc: Progression.RPCL },
    { RSpoc: 3, CSpoc: 0, LYEpoc: 4, REpoc: 6, CEpoc: 256, Ppoc: Progression.PCRL },
  ]);
  const w = parsePoc(Uint8Array.of(0, 11, 1, 0x01, 0x00, 0, 9, 4, 0x01, 0x05, 4), 400);
  assert.deepEqual(w, [{ RSpoc: 1, CSpoc: 256, LYEpoc: 9, REpoc: 4, CEpoc: 261, Ppoc: Progression.CPRL }]);
  assert.throws(() => parsePoc(Uint8Array.of(0, 8, 0, 0, 0, 2, 3, 1), 3), fails('ERR_IMAGE_CORRUPT'));
  assert.throws(() => parsePoc(Uint8Array.of(0, 9, 0, 0, 0, 2, 3, 1, 5), 3), fails('ERR_IMAGE_CORRUPT'));
});

test('SOT and PLT headers', () => {
  assert.deepEqual(parseSot(Uint8Array.of(0, 10, 0, 3, 0, 0, 1, 0, 2, 5), 4), { Isot: 3, Psot: 256, TPsot: 2, TNsot: 5 });
  assert.equal(parseSot(Uint8Array.of(0, 10, 0, 0, 0, 0, 0, 0, 0, 1), 1).Psot, 0);
  assert.throws(() => parseSot(Uint8Array.of(0, 10, 0, 4, 0, 0, 1, 0, 0, 1), 4), fails('ERR_IMAGE_CORRUPT'));
  assert.throws(() => parseSot(Uint8Array.of(0, 10, 0, 0, 0, 0, 0, 13, 0, 1), 4), fails('ERR_IMAGE_CORRUPT'));
  assert.throws(() => parseSot(Uint8Array.of(0, 11, 0, 0, 0, 0, 0, 20, 0, 1, 0), 4), fails('ERR_IMAGE_CORRUPT'));
  assert.deepEqual(parsePltHeader(Uint8Array.of(0, 6, 7, 1, 2, 3)), { Zplt: 7, ipltStart: 3, ipltLength: 3 });
  assert.throws(() => parsePltHeader(Uint8Array.of(0, 3, 0)), fails('ERR_IMAGE_CORRUPT'));
});
