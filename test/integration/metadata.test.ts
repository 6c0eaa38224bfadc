/**
 * Metadata-bins and `metareq` (15444-9 A.3.6, C.5.2): bin 0 holds the top-level boxes with
 * placeholders, each content box's contents travel in a bin of its own, metareq selects those bins
 * by box type, root and depth, limits box bodies, and `!!` means metadata only. The boxes rebuilt from
 * the bins are byte-identical to the file's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { parseJppStream, type JppEvent } from '../../src/client/jpp-parser.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer();
});
after(async () => {
  await srv.stop();
});

async function events(query: string): Promise<JppEvent[]> {
  const r = await fetch(`${srv.base}/frames3-128.jpx?${query}`);
  assert.equal(r.status, 200);
  return parseJppStream(new Uint8Array(await r.arrayBuffer()));
}
const metaBins = (ev: JppEvent[]): number[] => [...new Set(ev.flatMap((e) => (e.kind === 'message' && e.cls === 8 ? [e.id] : [])))].sort();
const hasImageData = (ev: JppEvent[]): boolean => ev.some((e) => e.kind === 'message' && e.cls !== 8);

/** Top-level boxes of a file, as [type, bytes]. */
function topBoxes(bytes: Uint8Array): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let pos = 0; pos < bytes.length; ) {
    const len = dv.getUint32(pos);
    out.push([String.fromCharCode(...bytes.subarray(pos + 4, pos + 8)), bytes.subarray(pos, pos + len)]);
    pos += len;
  }
  return out;
}

describe('metareq', () => {
  it('without metareq sends bin 0 only; [*] adds every content bin; [xml_] selects by type', async () => {
    assert.deepEqual(metaBins(await events('fsiz=128,128&len=200000')), [0]);
    assert.deepEqual(metaBins(await events('metareq=[*]')), [0, 1, 2]);
    assert.deepEqual(metaBins(await events('metareq=[xml_]')), [0, 1, 2]);
    assert.deepEqual(metaBins(await events('metareq=[asoc]')), [0]);
    assert.deepEqual(metaBins(await events('metareq=%5Bxml_%5D')), [0, 1, 2], 'percent-encoded as Kakadu sends it');
  });

  it('honours R (root bin), D0 (root only), box-body limits, and !! (metadata only)', async () => {
    assert.deepEqual(metaBins(await events('metareq=[*]R2')), [0, 2]);
    assert.deepEqual(metaBins(await events('metareq=[*]D0')), [0]);
    const limited = await events('metareq=[xml_:5]');
    for (const e of limited) if (e.kind === 'message' && e.cls === 8 && e.id > 0) assert.ok(e.offset + e.length <= 5 && !e.complete);
    assert.ok(hasImageData(await events('stream=1&fsiz=128,128&metareq=[*]')));
    assert.ok(!hasImageData(await events('stream=1&fsiz=128,128&metareq=[*]!!')));
  });

  it('rebuilds the file\'s non-codestream boxes byte for byte from bin 0 and its placeholders', async () => {
    const cache = new DataBinCache();
    for (const e of await events('metareq=[*]!!')) if (e.kind === 'message') cache.add(e);
    const bin0 = cache.get({ cls: 8, codestream: 0, id: 0 });
    const rebuilt: Array<[string, Uint8Array]> = [];
    for (const [type, bytes] of topBoxes(bin0)) {
      if (type !== 'phld') {
        rebuilt.push([type, bytes]);
        continue;
      }
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const flags = dv.getUint32(8);
      const origId = Number(dv.getBigUint64(12));
      const hl = bytes.length - 44;
      const origBH = bytes.subarray(20, 20 + hl);
      if (flags === 4) continue; // codestream: delivered as header and precinct bins
      assert.equal(flags, 1);
      rebuilt.push([String.fromCharCode(...origBH.subarray(4, 8)), Buffer.concat([origBH, cache.get({ cls: 8, codestream: 0, id: origId })])]);
    }
    const original = topBoxes(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'frames3-128.jpx')))).filter(([t]) => t !== 'jp2c');
    assert.deepEqual(rebuilt.map(([t]) => t), original.map(([t]) => t));
    rebuilt.forEach(([, b], i) => assert.deepEqual(new Uint8Array(b), new Uint8Array(original[i][1])));
  });
});

describe('gzip', () => {
  it('compresses metadata responses for clients that accept gzip, and nothing else', async () => {
    const { gunzipSync } = await import('node:zlib');
    const net = await import('node:net');
    const get = (q: string, gzip: boolean): Promise<string> =>
      new Promise((resolve, reject) => {
        const sock = net.connect(srv.port, '127.0.0.1');
        let text = '';
        sock.on('data', (d) => (text += d.toString('latin1')));
        sock.on('error', reject);
        sock.on('close', () => resolve(text));
        sock.write(`GET /frames3-128.jpx?${q} HTTP/1.1\r\nHost: a\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}Connection: close\r\n\r\n`);
      });
    /** The response body, framed by Content-Length or by chunks. */
    const dechunk = (http: string): Buffer => {
      const head = http.slice(0, http.indexOf('\r\n\r\n'));
      const body = http.slice(http.indexOf('\r\n\r\n') + 4);
      const length = /\r\nContent-Length: (\d+)/i.exec(head);
      if (length) {
        assert.equal(body.length, Number(length[1]), 'the whole body and nothing more');
        return Buffer.from(body, 'latin1');
      }
      const parts: Buffer[] = [];
      for (let at = 0; ; ) {
        const nl = body.indexOf('\r\n', at);
        const n = parseInt(body.slice(at, nl), 16);
        if (!n) break;
        parts.push(Buffer.from(body.slice(nl + 2, nl + 2 + n), 'latin1'));
        at = nl + 2 + n + 2;
      }
      return Buffer.concat(parts);
    };
    const plain = await get('metareq=[*]!!', false);
    const zipped = await get('metareq=[*]!!', true);
    assert.doesNotMatch(plain, /Content-Encoding/i);
    assert.match(zipped, /\r\nContent-Encoding: gzip\r\n/);
    assert.deepEqual(gunzipSync(dechunk(zipped)), dechunk(plain));
    const image = await get('stream=0&fsiz=128,128', true);
    assert.doesNotMatch(image, /Content-Encoding/i, 'image data is not compressed');
  });
});
