/**
 * Headers that declare absurd work are refused at open, quickly and without sizing anything from
 * them, and the refusal is remembered per file version (issue: cheap rejection of hostile headers).
 * The hostile files are the 4096² sample with its COD rewritten: 65,535 layers, or 2×2 precincts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BufferSource, be } from '../../src/bytes/source.js';
import { JpipdError } from '../../src/errors.js';
import { Catalog } from '../../src/io/catalog.js';
import { scanTarget } from '../../src/j2k/boxes.js';

const SAMPLE = new URL('../fixtures/gray4096-rpcl-p128-l8.jp2', import.meta.url);

/** The sample with its main-header COD changed by `edit(cod segment bytes from Lcod on)`. */
function withCod(edit: (seg: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(readFileSync(SAMPLE));
  const cs = scanTarget(new BufferSource(bytes)).codestreams[0];
  const cod = cs.mainSegments.find((s) => s.code === 0xff52);
  assert.ok(cod);
  edit(bytes.subarray(cod.offset + 2, cod.offset + cod.length));
  return bytes;
}
// COD from Lcod: Lcod(2) Scod(1), SGcod: progression(1) layers(2) MCT(1); SPcod: NL xcb ycb style transform, then one precinct byte per resolution (offset 12 on).
const manyLayers = (): Uint8Array =>
  withCod((s) => {
    assert.equal(be.u16(s, 4), 8, 'the sample has 8 layers');
    s[4] = 0xff;
    s[5] = 0xff;
  });
const tinyPrecincts = (): Uint8Array =>
  withCod((s) => {
    assert.equal(s[2] & 1, 1, 'the sample has user precincts');
    for (let i = 12; i < s.length; i++) s[i] = 0x11; // PPx = PPy = 1: 2×2 precincts
  });

const refused = (e: unknown): boolean => e instanceof JpipdError && (e.code === 'ERR_IMAGE_CORRUPT' || e.code === 'ERR_IMAGE_LIMIT');

for (const [what, make] of [
  ['65,535 layers', manyLayers],
  ['2×2 precincts on 4096²', tinyPrecincts],
] as const) {
  test(`${what}: refused at scan, in bounded time`, () => {
    const bytes = make();
    const t0 = performance.now();
    assert.throws(() => scanTarget(new BufferSource(bytes)), (e: unknown) => refused(e) && /declare more packets/.test((e as Error).message));
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`); // generous: about 1 ms here
  });
}

test('the sample itself still scans (the bound is the data, not a fixed number)', () => {
  const cs = scanTarget(new BufferSource(new Uint8Array(readFileSync(SAMPLE)))).codestreams[0];
  assert.equal(cs.cod.layers, 8);
});

test('a refused file version is remembered until the file changes', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'jpipd-hostile-'));
  try {
    const abs = path.join(root, 'bad.jp2');
    writeFileSync(abs, manyLayers());
    const catalog = new Catalog({ root, cacheDir: null });
    assert.throws(() => catalog.open('bad.jp2', abs), refused);
    assert.equal(catalog.refusalHits, 0);
    assert.throws(() => catalog.open('bad.jp2', abs), refused);
    assert.equal(catalog.refusalHits, 1, 'the second request did not scan again');
    // A new version (here: a good image under the same name) is scanned and served.
    writeFileSync(abs, readFileSync(SAMPLE));
    utimesSync(abs, new Date(), new Date(Date.now() + 5000));
    const f = catalog.open('bad.jp2', abs);
    assert.equal(f.layout.codestreams[0].cod.layers, 8);
    assert.equal(catalog.refusalHits, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
