/** Hyperlinked JPX parsing (15444-2 M.11.3): fragment tables, fragment lists, data references. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferSource, put } from '../../src/bytes/source.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { box, concatBytes, ftypBox, signatureBox, xmlBox } from '../../src/j2k/box-writer.js';

function flst(frags: Array<[number, number, number]>): Uint8Array {
  const b = new Uint8Array(2 + frags.length * 14);
  put.u16(b, 0, frags.length);
  frags.forEach(([off, len, dr], i) => {
    put.u64(b, 2 + i * 14, off);
    put.u32(b, 10 + i * 14, len);
    put.u16(b, 14 + i * 14, dr);
  });
  return box('flst', b);
}
function dtbl(urls: string[]): Uint8Array {
  const n = new Uint8Array(2);
  put.u16(n, 0, urls.length);
  return box('dtbl', n, ...urls.map((u) => box('url ', new Uint8Array(4), new TextEncoder().encode(u + '\0'))));
}

test('a hyperlinked JPX lists one linked codestream per ftbl, in order, with its data reference', () => {
  const file = concatBytes(
    signatureBox(),
    ftypBox('jpx ', 0, ['jpx ', 'jp2 ', 'jpxb']),
    xmlBox('<meta/>'),
    box('ftbl', flst([[100, 2000, 2]])),
    box('ftbl', flst([[85, 3000, 1]])),
    box('ftbl', flst([[7, 10, 0]])),
    box('ftbl', flst([[1, 1, 1], [2, 2, 1]])),
    box('ftbl', flst([[1, 1, 9]])),
    dtbl(['file:///data/jp2/a.jp2', 'frames/b%20c.jp2']),
  );
  const t = scanTarget(new BufferSource(file));
  assert.equal(t.kind, 'jpx');
  assert.equal(t.codestreams.length, 0);
  const links = t.links ?? [];
  assert.equal(links.length, 5);
  assert.deepEqual(
    links.slice(0, 2).map((l) => [l.url, l.dr, l.offset, l.length, l.error]),
    [
      ['frames/b%20c.jp2', 2, 100, 2000, undefined],
      ['file:///data/jp2/a.jp2', 1, 85, 3000, undefined],
    ],
  );
  assert.equal(links[2].error?.code, 'ERR_IMAGE_UNSUPPORTED', 'DR 0: a fragment of the movie itself');
  assert.equal(links[3].error?.code, 'ERR_IMAGE_UNSUPPORTED', 'two fragments');
  assert.equal(links[4].error?.code, 'ERR_IMAGE_CORRUPT');
  // Metadata-bin 0: each ftbl becomes a codestream placeholder numbered in order; other boxes inline.
  const phlds = t.metadata.filter((m) => m.kind === 'phld');
  assert.deepEqual(phlds.map((m) => (m.kind === 'phld' ? [m.codestream, m.box.type] : [])), [
    [0, 'ftbl'],
    [1, 'ftbl'],
    [2, 'ftbl'],
    [3, 'ftbl'],
    [4, 'ftbl'],
  ]);
});

test('malformed data references are corrupt', () => {
  const bad = (d: Uint8Array) =>
    assert.throws(() => scanTarget(new BufferSource(concatBytes(signatureBox(), ftypBox('jpx ', 0, ['jpx ']), box('ftbl', flst([[0, 1, 1]])), d))), { code: 'ERR_IMAGE_CORRUPT' });
  const n2 = new Uint8Array(2);
  put.u16(n2, 0, 2);
  bad(box('dtbl', n2, box('url ', new Uint8Array(4), new TextEncoder().encode('a\0')))); // NDR 2, one url
  bad(box('dtbl', new Uint8Array([0, 1]), box('xml ', new Uint8Array(8)))); // not a url box
  bad(box('dtbl', new Uint8Array([0, 1]), box('url ', new Uint8Array(4), new Uint8Array([0])))); // empty location
});

test('compositing layers map to the codestreams their creg registers, or layer i to codestream i', async () => {
  const { compositingLayers } = await import('../../src/j2k/links.js');
  const { listBoxes } = await import('../../src/j2k/box-reader.js');
  const creg = (cdns: number[]) => {
    const b = new Uint8Array(4 + cdns.length * 6);
    put.u16(b, 0, 1);
    put.u16(b, 2, 1);
    cdns.forEach((c, i) => put.u16(b, 4 + i * 6, c));
    return box('creg', b);
  };
  const file = concatBytes(box('jplh', box('cgrp', new Uint8Array(0))), box('jplh', creg([2, 0])), box('jplh', xmlBox('<x/>')));
  const src = new BufferSource(file);
  assert.deepEqual(compositingLayers(src, listBoxes(src, 0, file.length)), [[0], [2, 0], [2]]);
  const bad = box('jplh', box('creg', new Uint8Array(5)));
  assert.throws(() => compositingLayers(new BufferSource(bad), listBoxes(new BufferSource(bad), 0, bad.length)), { code: 'ERR_IMAGE_CORRUPT' });
});

test('context=jpxl<…> follows the layer map; without layers, layer i is codestream i', async () => {
  const { requestedCodestreams } = await import('../../src/jpip/normalize.js');
  const { parseRequest } = await import('../../src/jpip/request.js');
  const req = parseRequest('context=jpxl<0-2>');
  assert.deepEqual(requestedCodestreams(req, 5, [[0], [3, 4], [1]]), [0, 3, 4, 1]);
  assert.deepEqual(requestedCodestreams(req, 5), [0, 1, 2]);
  assert.deepEqual(requestedCodestreams(parseRequest('stream=4&context=jpxl<0>'), 5, [[2]]), [4, 2]);
  assert.deepEqual(requestedCodestreams(parseRequest('fsiz=1,1'), 5), [0]);
});
