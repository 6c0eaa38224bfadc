import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JpipdError } from '../../src/errors.js';
import { BinKind, CacheModel, COMPLETE, Holdings, PAGE_SIZE, type ModelDelta } from '../../src/jpip/cache-model.js';
import { parseModel, type ModelItem } from '../../src/jpip/model-field.js';

/** Codestream qualifier expansion as a caller would do it (ranges are closed in these tests). */
const expand = (item: ModelItem): number[] => {
  const out: number[] = [];
  for (const r of item.codestreams) for (let cs = r.from; cs <= (r.to ?? r.from); cs++) out.push(cs);
  return out;
};

/** Applies one `model=` value as the server does. */
const apply = (m: CacheModel, field: string): void => m.applyStatements(parseModel(field), expand);

const precinct = (m: CacheModel, cs: number, id: number): number => m.stream(cs).precincts.get(id);

test('model=: statements are absolute — P5:100 then P5:50 keeps 100', () => {
  const m = new CacheModel();
  apply(m, 'P5:100');
  assert.equal(precinct(m, 0, 5), 100);
  apply(m, 'P5:50');
  assert.equal(precinct(m, 0, 5), 100, 'a smaller statement never lowers the holding');
  apply(m, 'P5:120');
  assert.equal(precinct(m, 0, 5), 120, 'not 100 + 120 (esajpip added)');
});

test('model=: P5 without amount = complete; complete stays complete under byte statements', () => {
  const m = new CacheModel();
  apply(m, 'P5:10');
  apply(m, 'P5');
  assert.equal(precinct(m, 0, 5), COMPLETE);
  apply(m, 'P5:3');
  assert.equal(precinct(m, 0, 5), COMPLETE);
});

test('model=: a subtractive statement -P5 forgets the bin (and frees its entry)', () => {
  const m = new CacheModel();
  apply(m, 'P5,P6:10,Hm,H0,M0:40');
  assert.equal(m.size, 4, 'P5, P6, H0, M0 (the main header is not a counted entry)');
  apply(m, '-P5');
  assert.equal(precinct(m, 0, 5), 0);
  assert.equal(m.stream(0).precincts.has(5), false);
  assert.equal(precinct(m, 0, 6), 10, 'other bins untouched');
  assert.equal(m.size, 3);
  apply(m, '-Hm,-H0,-M0');
  assert.equal(m.stream(0).main, 0);
  assert.equal(m.stream(0).tiles.has(0), false);
  assert.equal(m.meta.has(0), false);
  assert.equal(m.size, 1);
  apply(m, '-P99,[7],-P1');
  assert.equal(m.size, 1, 'forgetting unknown bins or codestreams is harmless');
  assert.equal(m.streams.has(7), false, 'forgetting does not create a codestream model');
});

test('model=: codestream qualifiers [0-2] apply to the following items; metadata bins have no codestream', () => {
  const m = new CacheModel();
  apply(m, '[0-2],Hm,P3:7,[5],H1,M2:30');
  for (const cs of [0, 1, 2]) {
    assert.equal(m.stream(cs).main, COMPLETE, `Hm of ${cs}`);
    assert.equal(precinct(m, cs, 3), 7, `P3 of ${cs}`);
    assert.equal(m.stream(cs).tiles.has(1), false);
  }
  assert.equal(m.stream(5).tiles.get(1), COMPLETE);
  assert.equal(m.stream(5).main, 0);
  assert.equal(m.streams.has(3), false);
  assert.equal(m.streams.has(4), false);
  assert.equal(m.meta.get(2), 30, 'M2 lands in the metadata map whatever the qualifier');
  // Kakadu-style complete holdings.
  const k = new CacheModel();
  apply(k, '[0],Hm,H0,P0,P3:120,P4,M0:2000');
  assert.equal(k.stream(0).main, COMPLETE);
  assert.equal(k.stream(0).tiles.get(0), COMPLETE);
  assert.deepEqual([precinct(k, 0, 0), precinct(k, 0, 3), precinct(k, 0, 4), precinct(k, 0, 1)], [COMPLETE, 120, COMPLETE, 0]);
  assert.equal(k.meta.get(0), 2000);
});

test('model=: layer counts, wildcards and JPT tiles are not recorded', () => {
  const m = new CacheModel();
  apply(m, 'P5:L2,P*,T3,M*');
  assert.equal(m.size, 0);
  assert.equal(precinct(m, 0, 5), 0);
});

test('record: never lowers, COMPLETE wins, per kind and codestream', () => {
  const m = new CacheModel();
  m.record(BinKind.Precinct, 1, 9, 40);
  m.record(BinKind.Precinct, 1, 9, 20);
  assert.equal(precinct(m, 1, 9), 40);
  assert.equal(precinct(m, 0, 9), 0, 'another codestream');
  m.record(BinKind.MainHeader, 1, 0, 100);
  m.record(BinKind.MainHeader, 1, 0, 50);
  assert.equal(m.stream(1).main, 100);
  m.record(BinKind.MainHeader, 1, 0, COMPLETE);
  m.record(BinKind.MainHeader, 1, 0, 999);
  assert.equal(m.stream(1).main, COMPLETE);
  m.record(BinKind.TileHeader, 1, 9, 5);
  assert.equal(m.stream(1).tiles.get(9), 5);
  assert.equal(precinct(m, 1, 9), 40, 'tile header 9 and precinct 9 are different bins');
  m.record(BinKind.Metadata, 3, 0, 12);
  assert.equal(m.meta.get(0), 12);
  m.record(BinKind.Metadata, 0, 0, 11);
  assert.equal(m.meta.get(0), 12);
});

test('applyDelta: a response delta brings the model to what was sent', () => {
  const m = new CacheModel();
  apply(m, 'P2:10');
  const delta: ModelDelta[] = [
    [BinKind.Metadata, 0, 0, COMPLETE],
    [BinKind.MainHeader, 0, 0, COMPLETE],
    [BinKind.TileHeader, 0, 0, COMPLETE],
    [BinKind.Precinct, 0, 2, 30],
    [BinKind.Precinct, 0, 2, 55],
    [BinKind.Precinct, 0, 7, COMPLETE],
    [BinKind.Precinct, 2, 7, 4],
  ];
  m.applyDelta(delta);
  assert.equal(m.meta.get(0), COMPLETE);
  assert.equal(m.stream(0).main, COMPLETE);
  assert.equal(m.stream(0).tiles.get(0), COMPLETE);
  assert.equal(precinct(m, 0, 2), 55);
  assert.equal(precinct(m, 0, 7), COMPLETE);
  assert.equal(precinct(m, 2, 7), 4);
  m.applyDelta([[BinKind.Precinct, 0, 2, 12]]);
  assert.equal(precinct(m, 0, 2), 55, 'an older delta never lowers');
});

test('entry bound: a full model throws ERR_BUSY for new bins, not for updates; forgetting frees room', () => {
  const m = new CacheModel(3);
  m.record(BinKind.Precinct, 0, 1, 10);
  m.record(BinKind.TileHeader, 0, 0, COMPLETE);
  m.record(BinKind.Metadata, 0, 0, 5);
  assert.equal(m.size, 3);
  m.record(BinKind.Precinct, 0, 1, 20);
  m.record(BinKind.MainHeader, 0, 0, COMPLETE);
  assert.equal(m.size, 3);
  const busy = (f: () => void): void =>
    assert.throws(f, (e: unknown) => e instanceof JpipdError && e.code === 'ERR_BUSY');
  busy(() => m.record(BinKind.Precinct, 0, 2, 1));
  busy(() => m.record(BinKind.Precinct, 1, 1, 1));
  busy(() => m.record(BinKind.Metadata, 0, 1, 1));
  busy(() => apply(m, 'P77'));
  busy(() => m.applyDelta([[BinKind.Precinct, 0, 2, 4]]));
  assert.equal(precinct(m, 0, 2), 0);
  assert.equal(m.size, 3);
  apply(m, '-P1');
  m.record(BinKind.Precinct, 0, 2, 1);
  assert.equal(m.size, 3);
});

test('holdings: pages are allocated on first write only, far ids work, counts follow non-zero entries', () => {
  const h = new Holdings();
  assert.equal(h.byteLength, 0, 'an empty model costs no pages');
  assert.equal(h.get(123_456), 0);
  assert.equal(h.set(5, 0), 0, 'writing 0 to an absent bin allocates nothing');
  assert.equal(h.byteLength, 0);
  assert.equal(h.set(5, 100), 1);
  assert.equal(h.byteLength, PAGE_SIZE * 8, 'one page');
  assert.equal(h.set(PAGE_SIZE * 3 + 1, COMPLETE), 1);
  assert.equal(h.byteLength, 2 * PAGE_SIZE * 8, 'pages in between stay unallocated');
  const far = 2 ** 40 + 17;
  assert.equal(h.set(far, 9), 1);
  assert.equal(h.get(far), 9, 'ids past the dense range (huge tiled images) live in a page map');
  assert.equal(h.get(far + 1), 0);
  assert.equal(h.count, 3);
  assert.equal(h.set(5, 200), 0, 'an update is not a new entry');
  assert.equal(h.set(5, 0), -1);
  assert.equal(h.count, 2);
  assert.deepEqual([...h.entries()], [[PAGE_SIZE * 3 + 1, COMPLETE], [far, 9]]);
});

test('set and setIn: exact updates (the undo of a response) count entries and honour the bound', () => {
  const m = new CacheModel(2);
  m.set(BinKind.Precinct, 0, 7, 50);
  m.set(BinKind.Precinct, 0, 7, 10);
  assert.equal(precinct(m, 0, 7), 10, 'set lowers (record never does)');
  m.setIn(m.stream(1).precincts, 3, COMPLETE);
  assert.equal(m.size, 2);
  assert.throws(() => m.setIn(m.stream(1).precincts, 4, 1), (e: unknown) => e instanceof JpipdError && e.code === 'ERR_BUSY');
  m.set(BinKind.Precinct, 0, 7, 0);
  assert.equal(m.size, 1);
  m.setIn(m.stream(1).precincts, 4, 1);
  assert.equal(m.size, 2);
  assert.ok(m.byteLength >= 2 * PAGE_SIZE * 8);
});
