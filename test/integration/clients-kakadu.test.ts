/**
 * Kakadu's kdu_show (client library v6.1) replayed byte for byte against the real server (notes
 * §1.1, §1.6, §2.4, §9.6): `tid=0` on the opening request (JPIP-tid must come back and never
 * change), `cnew=http` or `cnew=http-tcp,http` (only `transport=http` may be granted), window
 * requests with flow-controlled `len` and `cid` after the window, a new request pipelined once the
 * previous response has started, POST with a form body when the request grows long, the stateless
 * fallback where the client describes its cache with `model=` (no JPIP-cnew when none was asked),
 * reopening with the real tid and a model, the JPIP-fsiz/roff/rsiz report of the served window, and
 * `cclose=C&len=0` with `Connection: close`. Windows are decoded with OpenJPEG and compared
 * bit-exactly with the original.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataBinCache } from '../../src/client/databin-cache.js';
import { reassembleCodestream } from '../../src/client/reassemble.js';
import { cropPixels, decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import {
  RawConnection,
  anyHeader,
  buildRequest,
  exactHeader,
  hex,
  kakaduHeaders,
  parseJppBody,
  type HeaderPair,
  type RawResponse,
} from '../helpers/raw-http.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const J2K = 'gray1000-rpcl-p64-l4.j2k';
const JP2 = 'rgb96.jp2';
let srv: TestServer;
let hostPort: string;
let original: Uint8Array;

before(async () => {
  srv = await startTestServer();
  hostPort = `127.0.0.1:${srv.port}`;
  original = new Uint8Array(fs.readFileSync(path.join(FIXTURES, J2K)));
});
after(async () => {
  await srv.stop();
});

/** kdu_show's GET (query with Kakadu's field order, written as given). */
function kduGet(pathAndQuery: string, extra: HeaderPair[] = []): string {
  return buildRequest('GET', pathAndQuery, kakaduHeaders(hostPort, extra));
}

/** kdu_show's POST for long requests: the whole query as a form body, Kakadu's header spelling. */
function kduPost(resource: string, query: string): string {
  return buildRequest(
    'POST',
    resource,
    kakaduHeaders(hostPort, [
      ['Content-type', 'application/x-www-form-urlencoded'],
      ['Content-length', String(Buffer.byteLength(query, 'latin1'))],
    ]),
    query,
  );
}

function show(req: string, r: RawResponse): string {
  return `${req.split('\r\n')[0]} → ${r.statusLine} | ${r.headerLines.join(' | ')} | body ${hex(r.body, 24)}`;
}

/** Kakadu's JPIP-cnew reading: prefix a comma, search `,name=` case-insensitively. */
function kduCnewParam(cnew: string, name: string): string | undefined {
  const s = `,${cnew}`;
  const i = s.toLowerCase().indexOf(`,${name}=`);
  if (i < 0) return undefined;
  const from = i + name.length + 2;
  const end = s.indexOf(',', from);
  return s.slice(from, end < 0 ? undefined : end);
}

/**
 * What kdu_show checks on a data response (notes §2.4): status < 400, a JPP content type
 * (case-insensitive prefix), a delimited body, one EOR at the end, the first message spelling out
 * class and codestream (Kakadu keeps the previous class across responses otherwise), main header id
 * 0; feeds `cache`. Returns the parsed body.
 */
function checkKdu(req: string, r: RawResponse, cache: DataBinCache): ReturnType<typeof parseJppBody> {
  const ctx = show(req, r);
  assert.ok(r.status < 400, ctx);
  assert.equal(r.status, 200, ctx);
  assert.ok((anyHeader(r, 'content-type') ?? '').toLowerCase().startsWith('image/jpp-stream'), ctx);
  assert.ok(r.chunked || anyHeader(r, 'content-length') !== undefined, 'Content-length or chunked');
  const jpp = parseJppBody(r.body);
  assert.ok(jpp.endsWithEor && jpp.eorCount === 1, `one EOR at the end: ${ctx}`);
  if (jpp.messages.length > 0) assert.equal((r.body[0] >> 5) & 3, 3, `first message with class and codestream: ${ctx}`);
  for (const m of jpp.messages) {
    if (m.cls === 6) assert.equal(m.id, 0, 'main header bin id 0 (Kakadu errors otherwise)');
    cache.add(m);
  }
  return jpp;
}

/** Kakadu's model of its cache (notes §7.2): `[0],Hm,H0,P<id>[:<n>],…,M0[:<n>]`, absolute holdings. */
function kduModel(cache: DataBinCache): string {
  const items: string[] = [];
  const amount = (k: { cls: number; codestream: number; id: number }): string => (cache.isComplete(k) ? '' : `:${cache.contiguousLength(k)}`);
  const keys = cache.keys().filter((k) => cache.contiguousLength(k) > 0 || cache.isComplete(k));
  const cs = keys.filter((k) => k.cls !== 8).sort((a, b) => a.cls - b.cls || a.id - b.id);
  if (cs.length > 0) items.push('[0]');
  for (const k of cs.filter((x) => x.cls === 6)) items.push(`Hm${amount(k)}`);
  for (const k of cs.filter((x) => x.cls === 2)) items.push(`H${k.id}${amount(k)}`);
  for (const k of cs.filter((x) => x.cls === 0)) items.push(`P${k.id}${amount(k)}`);
  for (const k of keys.filter((x) => x.cls === 8)) items.push(`M${k.id}${amount(k)}`);
  return items.join(',');
}

function samePixels(a: DecodedImage, b: DecodedImage): boolean {
  return a.width === b.width && a.height === b.height && a.pixels.length === b.pixels.length && a.pixels.every((v, i) => v === b.pixels[i]);
}

/** Decodes the cache at `d` discarded levels and compares the window (x, y, w, h) with the original's. */
async function assertWindowDecodes(cache: DataBinCache, d: number, x: number, y: number, w: number, h: number): Promise<void> {
  const got = cropPixels(await decodeJ2k(reassembleCodestream(cache, 0), d), x, y, w, h);
  const want = cropPixels(await decodeJ2k(original, d), x, y, w, h);
  assert.ok(got.width > 0 && samePixels(got, want), `window ${w}x${h}+${x}+${y} at d=${d} decodes bit-exactly`);
}

/** Opens a channel as kdu_show does; returns cid, tid and the response. */
async function kduOpen(c: RawConnection, target: string, cache: DataBinCache, cnew = 'http'): Promise<{ cid: string; tid: string; r: RawResponse }> {
  const req = kduGet(`/${target}?stream=0&len=2000&tid=0&type=jpp-stream&cnew=${cnew}`);
  await c.write(req);
  const r = await c.readResponse();
  const jpp = checkKdu(req, r, cache);
  const tid = anyHeader(r, 'jpip-tid');
  assert.ok(tid !== undefined && tid.length > 0 && tid.length <= 255 && !tid.includes('/'), `JPIP-tid after tid=0: ${show(req, r)}`);
  const cnewValue = anyHeader(r, 'jpip-cnew') ?? '';
  const cid = kduCnewParam(cnewValue, 'cid');
  assert.ok(cid !== undefined && cid.length > 0, `JPIP-cnew with cid: ${show(req, r)}`);
  assert.equal(kduCnewParam(cnewValue, 'transport'), 'http', 'only transport=http is granted');
  assert.equal(kduCnewParam(cnewValue, 'path'), 'jpip', 'path without a leading slash (Kakadu prefixes one)');
  const first = jpp.messages[0];
  assert.ok(first && first.cls === 8 && first.id === 0, 'metadata-bin 0 before anything else on a new channel');
  assert.ok(r.body.length - 3 <= 2000 || anyHeader(r, 'jpip-len') !== undefined, 'len=2000 respected (or JPIP-len)');
  return { cid, tid, r };
}

describe('kdu_show (Kakadu v6.1 client)', () => {
  it('opens with tid=0 and cnew=http: JPIP-tid, JPIP-cnew (cid, path, transport=http), metadata-bin 0 first', async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      await kduOpen(c, J2K, cache);
      assert.ok(cache.isComplete({ cls: 8, codestream: 0, id: 0 }) && cache.finalLength({ cls: 8, codestream: 0, id: 0 }) === 0, 'raw codestream: metadata-bin 0 empty and complete');
    } finally {
      c.destroy();
    }
  });

  it('grants only http for cnew=http-tcp,http and serves no channel for cnew=http-tcp alone', async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      await kduOpen(c, J2K, new DataBinCache(), 'http-tcp,http');
      const req = kduGet(`/${J2K}?stream=0&len=2000&tid=0&type=jpp-stream&cnew=http-tcp`);
      await c.write(req);
      const r = await c.readResponse();
      checkKdu(req, r, new DataBinCache());
      assert.equal(anyHeader(r, 'jpip-cnew'), undefined, `no channel granted without an offered transport: ${show(req, r)}`);
      assert.ok(r.body.length > 3, 'with http-tcp unavailable the reply still carries data over http');
    } finally {
      c.destroy();
    }
  });

  it('sends metadata-bin 0 of a JP2 first, with a standard phld placeholder carrying the original jp2c header', async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const { cid } = await kduOpen(c, JP2, cache);
      for (let i = 0; i < 20 && !cache.isComplete({ cls: 8, codestream: 0, id: 0 }); i++) {
        const req = kduGet(`/jpip?stream=0&len=2000&cid=${cid}`);
        await c.write(req);
        checkKdu(req, await c.readResponse(), cache);
      }
      const bin0 = cache.get({ cls: 8, codestream: 0, id: 0 });
      const file = new Uint8Array(fs.readFileSync(path.join(FIXTURES, JP2)));
      const at = Buffer.from(bin0).indexOf('phld');
      assert.ok(at >= 4, 'a phld box in metadata-bin 0');
      const dv = new DataView(bin0.buffer, bin0.byteOffset, bin0.byteLength);
      const lbox = dv.getUint32(at - 4);
      assert.ok(lbox === 52 || lbox === 60, `phld LBox ${lbox} (44 + OrigBH)`);
      assert.equal(dv.getUint32(at + 4), 4, 'Flags: codestream');
      const jp2cAt = Buffer.from(file).indexOf('jp2c') - 4;
      assert.deepEqual([...bin0.subarray(at + 16, at + 24)], [...file.subarray(jp2cAt, jp2cAt + 8)], 'OrigBH = the original jp2c box header');
      assert.deepEqual([...bin0.subarray(0, at - 4)], [...file.subarray(0, jp2cAt)], 'boxes before the codestream verbatim');
    } finally {
      c.destroy();
    }
  });

  it('browses a window with flow-controlled len, pipelining each request once the previous reply started; tid constant; bit-exact', { timeout: 20_000 }, async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const { cid, tid } = await kduOpen(c, J2K, cache);
      // 1000x700 at d=1 is 500x350; window 200x150 at (100,50).
      let len = 2000;
      const window = `fsiz=500,350&roff=100,50&rsiz=200,150&stream=0`;
      const make = (): string => kduGet(`/jpip?${window}&len=${len}&cid=${cid}`);
      let req = make();
      await c.write(req);
      let done = false;
      let responses = 0;
      while (!done) {
        assert.ok(++responses < 200, 'bounded');
        // Kakadu writes its next request once the current reply is under way.
        await c.waitBytes(1);
        len = Math.min(len * 2, 64000);
        const next = make();
        await c.write(next);
        const r = await c.readResponse();
        const jpp = checkKdu(req, r, cache);
        assert.equal(anyHeader(r, 'jpip-cnew'), undefined, 'no JPIP-cnew unless asked');
        const t = anyHeader(r, 'jpip-tid');
        if (t !== undefined) assert.equal(t, tid, 'JPIP-tid never changes while browsing');
        assert.equal(anyHeader(r, 'jpip-fsiz'), undefined, 'exact level size: no JPIP-fsiz');
        assert.ok([1, 2, 4].includes(jpp.eor as number), `EOR ${jpp.eor}`);
        if (jpp.eor !== 4) done = true;
        req = next;
      }
      // The request pipelined after the last reply finds the window complete.
      const last = await c.readResponse();
      assert.deepEqual([...last.body], [0x00, 0x02, 0x00], `a finished window asked again: ${show(req, last)}`);
      assert.equal(cache.stats().duplicateMessages, 0, 'no message sent twice');
      await assertWindowDecodes(cache, 1, 100, 50, 200, 150);
    } finally {
      c.destroy();
    }
  });

  it('learns the served window from JPIP-fsiz/roff/rsiz after rounding (round-down default, round-up, closest)', async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const { cid } = await kduOpen(c, J2K, new DataBinCache());
      const cases: Array<[string, Record<string, string | undefined>]> = [
        // 900x600 does not fit 1000x700: round-down gives 500x350; the region scales by 500/900, 350/600.
        ['fsiz=900,600&roff=90,60&rsiz=180,120', { 'JPIP-fsiz': '500,350', 'JPIP-roff': '50,35', 'JPIP-rsiz': '100,70' }],
        ['fsiz=900,600,round-up&roff=0,0&rsiz=900,600', { 'JPIP-fsiz': '1000,700', 'JPIP-roff': undefined, 'JPIP-rsiz': '1000,700' }],
        // closest by area: |1000*700-540000| < |500*350-540000|.
        ['fsiz=900,600,closest&roff=0,0&rsiz=900,600', { 'JPIP-fsiz': '1000,700', 'JPIP-roff': undefined, 'JPIP-rsiz': '1000,700' }],
        ['fsiz=250,175&roff=0,0&rsiz=250,175', { 'JPIP-fsiz': undefined, 'JPIP-roff': undefined, 'JPIP-rsiz': undefined }],
      ];
      for (const [w, want] of cases) {
        const req = kduGet(`/jpip?${w}&stream=0&len=100&cid=${cid}`);
        await c.write(req);
        const r = await c.readResponse();
        checkKdu(req, r, new DataBinCache());
        for (const [h, v] of Object.entries(want)) assert.equal(exactHeader(r, h), v, `${h} for ${w}: ${show(req, r)}`);
      }
    } finally {
      c.destroy();
    }
  });

  it('accepts POST with a form body exactly like the same request as GET', async () => {
    const bodies: Uint8Array[] = [];
    for (const method of ['GET', 'POST']) {
      const c = await RawConnection.connect(srv.port);
      try {
        const { cid } = await kduOpen(c, J2K, new DataBinCache());
        const query = `fsiz=250,175,round-up&roff=16,8&rsiz=120,90&stream=0&len=3000&cid=${cid}&qid=4`;
        const req = method === 'GET' ? kduGet(`/jpip?${query}`) : kduPost('/jpip', query);
        await c.write(req);
        const r = await c.readResponse();
        checkKdu(req, r, new DataBinCache());
        assert.equal(exactHeader(r, 'JPIP-qid'), '4', 'qid echoed (newer Kakadu clients need it)');
        bodies.push(r.body);
      } finally {
        c.destroy();
      }
    }
    assert.ok(bodies[0].length > 100);
    assert.deepEqual(bodies[1], bodies[0], 'POST body fields served exactly like the query');
  });

  it('falls back to stateless requests with model= (POST when long): no JPIP-cnew, nothing the model holds is resent, bit-exact', { timeout: 20_000 }, async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const window = 'fsiz=250,175&roff=0,0&rsiz=250,175&stream=0&len=3000';
      let tid = '0';
      let posts = 0;
      let partial = false;
      for (let i = 0; ; i++) {
        assert.ok(i < 100, 'bounded');
        const model = kduModel(cache);
        if (/P\d+:\d+/.test(model)) partial = true;
        const query = `${window}&tid=${tid}&type=jpp-stream${model ? `&model=${model}` : ''}`;
        const useGet = `/${J2K}?${query}`.length < 200;
        const req = useGet ? kduGet(`/${J2K}?${query}`) : kduPost(`/${J2K}`, query);
        if (!useGet) posts++;
        const before = cache.stats();
        await c.write(req);
        const r = await c.readResponse();
        const jpp = checkKdu(req, r, cache);
        assert.equal(anyHeader(r, 'jpip-cnew'), undefined, `no JPIP-cnew when no channel was asked: ${show(req, r)}`);
        if (tid === '0') {
          const t = anyHeader(r, 'jpip-tid');
          assert.ok(t !== undefined && t !== '0', 'JPIP-tid after tid=0');
          tid = t;
        }
        const now = cache.stats();
        assert.equal(now.redundantBytes, 0, `bytes the model declared were sent again: ${show(req, r)}`);
        if (jpp.eor === 4) assert.ok(now.bytes > before.bytes, 'progress');
        if (jpp.eor === 1 || jpp.eor === 2) break;
        assert.equal(jpp.eor, 4);
      }
      assert.ok(posts > 0, 'the model grew long enough for POST');
      assert.ok(partial, 'some model declared a partly received precinct (P<id>:<n>)');
      await assertWindowDecodes(cache, 2, 0, 0, 250, 175);
    } finally {
      c.destroy();
    }
  });

  it('reopens a target with its real tid and a model (cached .kjc): the model is honoured; a stale tid gets the new tid and no model use', { timeout: 10_000 }, async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const cache = new DataBinCache();
      const { cid, tid } = await kduOpen(c, J2K, cache);
      for (let i = 0; i < 50; i++) {
        const req = kduGet(`/jpip?fsiz=125,88&roff=0,0&rsiz=125,88&stream=0&len=20000&cid=${cid}`);
        await c.write(req);
        if (checkKdu(req, await c.readResponse(), cache).eor !== 4) break;
      }
      await c.write(kduGet(`/jpip?cclose=${cid}&len=0`));
      assert.equal((await c.readResponse()).status, 200);
      const model = kduModel(cache);
      assert.ok(model.includes('Hm') && model.includes('P0'));
      // Reopen with the real tid: nothing the model holds comes back.
      const reopen = kduPost(`/${J2K}`, `stream=0&len=20000&tid=${tid}&type=jpp-stream&cnew=http&fsiz=125,88&roff=0,0&rsiz=125,88&model=${model}`);
      await c.write(reopen);
      const r = await c.readResponse();
      const again = new DataBinCache();
      const jpp = checkKdu(reopen, r, again);
      assert.ok(anyHeader(r, 'jpip-cnew') !== undefined, 'channel granted');
      assert.equal(anyHeader(r, 'jpip-tid'), tid, 'same target, same tid');
      assert.deepEqual(jpp.messages.filter((m) => m.length > 0), [], `a window held whole by the model: ${show(reopen, r)}`);
      assert.equal(jpp.eor, 2);
      // A stale tid (the file the client cached is not this one): the model is ignored.
      const stale = kduGet(`/${J2K}?stream=0&len=20000&tid=Zstale0tid&type=jpp-stream&fsiz=125,88&roff=0,0&rsiz=125,88&model=[0],Hm`);
      await c.write(stale);
      const s = await c.readResponse();
      const sj = checkKdu(stale, s, new DataBinCache());
      assert.equal(anyHeader(s, 'jpip-tid'), tid, 'the current tid');
      assert.ok(sj.messages.some((m) => m.cls === 6 && m.length > 0), 'main header sent despite the model');
    } finally {
      c.destroy();
    }
  });

  it('closes with cclose=C&len=0 and Connection: close: 200, then the connection is closed', async () => {
    const c = await RawConnection.connect(srv.port);
    try {
      const { cid } = await kduOpen(c, J2K, new DataBinCache());
      await c.write(kduGet(`/jpip?cclose=${cid}&len=0`, [['Connection', 'close']]));
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 0);
      assert.ok(await c.waitClose(2000), 'server closes after answering Connection: close');
      const c2 = await RawConnection.connect(srv.port);
      await c2.write(kduGet(`/jpip?stream=0&len=100&cid=${cid}`));
      const gone = await c2.readResponse();
      c2.destroy();
      assert.ok(gone.status >= 400, 'the channel is closed');
    } finally {
      c.destroy();
    }
  });
});

