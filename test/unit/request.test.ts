import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JpipdError } from '../../src/errors.js';
import { parseRequest, MAX_FIELDS } from '../../src/jpip/request.js';
import { parseMetareq } from '../../src/jpip/metareq.js';
import { parseModel } from '../../src/jpip/model-field.js';
import { expandSampledRanges, parseSampledRanges, parseUintRanges } from '../../src/jpip/ranges.js';

/** Asserts `fn` throws a JpipdError with `code` whose one-line message starts with `prefix`. */
function throwsCode(fn: () => unknown, code: string, prefix: string): JpipdError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof JpipdError, `expected a JpipdError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.ok(caught.message.startsWith(prefix), `message ${JSON.stringify(caught.message)} should start with ${prefix}`);
  assert.ok(!caught.message.includes('\n'), 'message is one line');
  return caught;
}

/** Asserts parsing `q` is malformed in field `field`. */
function bad(q: string, field: string, body?: string): JpipdError {
  return throwsCode(() => parseRequest(q, body), 'ERR_MALFORMED_REQUEST', `${field}:`);
}

const one = (from: number, to: number | null = from, step = 1) => ({ from, to, step });
const star = { type: '*', recurse: false, scope: 'wsg', priority: false };

describe('parseRequest: splitting and decoding', () => {
  it('empty query gives only an empty unknown list', () => {
    assert.deepEqual(parseRequest(''), { unknown: [] });
  });

  it('skips empty segments and splits on the first =', () => {
    assert.deepEqual(parseRequest('&&len=5&&pref=a=b&'), { len: 5, pref: 'a=b', unknown: [] });
  });

  it('a repeated field keeps its last value, body after query', () => {
    assert.deepEqual(parseRequest('len=1&layers=2&len=3'), { len: 3, layers: 2, unknown: [] });
    assert.deepEqual(parseRequest('len=1', 'len=4&len=5'), { len: 5, unknown: [] });
  });

  it('numbers parsed in place: leading zeros, the 53-bit edge, lists of one', () => {
    assert.equal(parseRequest('len=00012').len, 12);
    assert.equal(parseRequest('len=9007199254740991').len, Number.MAX_SAFE_INTEGER);
    bad('len=9007199254740992', 'len');
    bad('len=12345678901234567890', 'len');
    bad('len=1e3', 'len');
    bad('len=', 'len');
    assert.deepEqual(parseRequest('stream=07').stream, [{ from: 7, to: 7, step: 1 }]);
    assert.deepEqual(parseRequest('fsiz=4294967295,1').fsiz, { fx: 4294967295, fy: 1, round: 'round-down', roundGiven: false });
    bad('fsiz=4294967296,1', 'fsiz');
    bad('fsiz=1,2,closest,4', 'fsiz');
    bad('fsiz=1,,closest', 'fsiz');
    bad('roff=1,2,3', 'roff');
    bad('roff=1', 'roff');
    bad('rsiz=0,5', 'rsiz');
  });

  it('percent-encoded and raw brackets parse the same', () => {
    const enc = parseRequest('metareq=%5B*%5D!!&context=jpxl%3C3-3%3E');
    const raw = parseRequest('metareq=[*]!!&context=jpxl<3-3>');
    assert.deepEqual(enc, raw);
    assert.deepEqual(raw.metareq, { groups: [{ props: [star] }], metadataOnly: true });
    assert.deepEqual(raw.context, [{ kind: 'jpxl', layers: [one(3)] }]);
  });

  it('decodes after splitting, so an encoded & survives; + stays +', () => {
    assert.equal(parseRequest('target=a%26b.jp2&len=1').target, 'a&b.jp2');
    assert.equal(parseRequest('target=a+b.jp2').target, 'a+b.jp2');
    assert.equal(parseRequest('target=a%2Bb%20c.jp2').target, 'a+b c.jp2');
  });

  it('rejects bad percent-encoding and control characters', () => {
    bad('target=%zz', 'target');
    bad('target=%E0%A4', 'target');
    bad('target=a%00b', 'target');
    bad('pref=a%0Ab', 'pref');
  });

  it('collects unknown fields (names only, bounded) and ignores them', () => {
    const long = 'z'.repeat(100);
    const r = parseRequest(`foo=1&bar&sendto=x&foo=2&${long}=1&len=3`);
    assert.deepEqual(r, { len: 3, unknown: ['foo', 'bar', 'sendto', 'z'.repeat(40)] });
  });

  it('unknown names are masked to printable ASCII', () => {
    assert.deepEqual(parseRequest('a\u00e9\x01=1').unknown, ['a??']);
  });

  it('field names are case-sensitive', () => {
    assert.deepEqual(parseRequest('LEN=5'), { unknown: ['LEN'] });
  });

  it('a duplicated field keeps its last value, even over an invalid earlier one', () => {
    assert.equal(parseRequest('len=1&len=2').len, 2);
    assert.equal(parseRequest('len=abc&len=5').len, 5);
    bad('len=5&len=abc', 'len');
  });

  it('merges a POST body after the query (body wins)', () => {
    const r = parseRequest('cid=C1&len=100', 'len=300&stream=2');
    assert.deepEqual(r, { cid: 'C1', len: 300, stream: [one(2)], unknown: [] });
    assert.deepEqual(parseRequest('', 'fsiz=10,10&roff=1,2'), {
      fsiz: { fx: 10, fy: 10, round: 'round-down', roundGiven: false },
      roff: { x: 1, y: 2 },
      unknown: [],
    });
  });

  it(`accepts at most ${MAX_FIELDS} fields, counting query and body together`, () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `x${i}=1`).join('&');
    assert.equal(parseRequest(fields(64)).unknown.length, 64);
    bad(fields(65), 'request');
    bad(fields(40), 'request', fields(25));
  });

  it('bounds ordinary values at 16 KiB and model/need at 1 MiB', () => {
    assert.equal(parseRequest(`pref=${'a'.repeat(16384)}`).pref?.length, 16384);
    bad(`pref=${'a'.repeat(16385)}`, 'pref');
    bad(`pref=${'%41'.repeat(16385)}`, 'pref');
    const need = 'P1'.repeat(512 * 1024);
    assert.equal(parseRequest(`need=${need}`).need?.length, 1024 * 1024);
    bad(`need=${need}x`, 'need');
    const item = 'P1234567:1234567,';
    const model = item.repeat(Math.floor((1024 * 1024) / item.length)).slice(0, -1);
    const items = parseRequest(`model=${model}`).model!;
    assert.equal(items.length, Math.floor((1024 * 1024) / item.length));
    assert.deepEqual(items[0], { codestreams: [{ from: 0, to: 0 }], bin: 'precinct', id: 1234567, subtractive: false, bytes: 1234567 });
    bad(`model=${model},P${'1'.repeat(1024 * 1024 - model.length)}`, 'model');
  });

  it('never echoes more than ~40 characters of a bad value', () => {
    const e = bad(`len=${'x'.repeat(1000)}`, 'len');
    assert.ok(!e.message.includes('x'.repeat(41)));
    assert.ok(e.message.length < 120);
  });
});

describe('parseRequest: numbers', () => {
  it('len: 0 .. 2^53-1, decimal digits only', () => {
    assert.equal(parseRequest('len=0').len, 0);
    assert.equal(parseRequest('len=007').len, 7);
    assert.equal(parseRequest('len=9007199254740991').len, Number.MAX_SAFE_INTEGER);
    for (const v of ['9007199254740992', '9007199254740993', '1'.repeat(400), '-1', '+5', '1e3', '0x10', ' 5', '5 ', '1.5', ''])
      bad(`len=${encodeURIComponent(v)}`, 'len');
  });

  it('qid ≤ 2^32-1, layers ≤ 65535, quality ≤ 100', () => {
    assert.equal(parseRequest('qid=4294967295').qid, 4294967295);
    bad('qid=4294967296', 'qid');
    assert.equal(parseRequest('layers=65535').layers, 65535);
    bad('layers=65536', 'layers');
    assert.equal(parseRequest('quality=100').quality, 100);
    assert.equal(parseRequest('quality=0').quality, 0);
    bad('quality=101', 'quality');
  });

  it('srate and drate are non-negative decimals', () => {
    assert.deepEqual(parseRequest('srate=25&drate=0.5'), { srate: 25, drate: 0.5, unknown: [] });
    for (const v of ['-1', '1e3', '.5', '1.', 'abc', '']) bad(`srate=${v}`, 'srate');
    bad('drate=+2', 'drate');
  });
});

describe('parseRequest: target and channel fields', () => {
  it('target: 1..1024 characters, no control characters', () => {
    assert.equal(parseRequest('target=dir/NAME.jp2').target, 'dir/NAME.jp2');
    assert.equal(parseRequest(`target=${'a'.repeat(1024)}`).target?.length, 1024);
    bad(`target=${'a'.repeat(1025)}`, 'target');
    bad('target=', 'target');
    bad('target', 'target');
    bad('target=a%1Fb', 'target');
  });

  it('subtarget is kept as given; empty is malformed', () => {
    assert.equal(parseRequest('subtarget=100-200').subtarget, '100-200');
    bad('subtarget=', 'subtarget');
  });

  it('tid and cid tokens', () => {
    assert.equal(parseRequest('tid=0').tid, '0');
    assert.equal(parseRequest('tid=a.B_c~d-9').tid, 'a.B_c~d-9');
    assert.equal(parseRequest(`cid=${'c'.repeat(255)}`).cid?.length, 255);
    bad(`cid=${'c'.repeat(256)}`, 'cid');
    bad('cid=', 'cid');
    bad('cid=a%20b', 'cid');
    bad('tid=a/b', 'tid');
    bad('cid=a+b', 'cid');
  });

  it('cnew: non-empty lower-cased transport list', () => {
    assert.deepEqual(parseRequest('cnew=http-tcp,http').cnew, ['http-tcp', 'http']);
    assert.deepEqual(parseRequest('cnew=HTTP').cnew, ['http']);
    bad('cnew=', 'cnew');
    bad('cnew=http,', 'cnew');
    bad('cnew=ht_tp', 'cnew');
  });

  it('cclose: * or a cid list', () => {
    assert.equal(parseRequest('cclose=*').cclose, '*');
    assert.deepEqual(parseRequest('cclose=C1,C2').cclose, ['C1', 'C2']);
    bad('cclose=', 'cclose');
    bad('cclose=*,C1', 'cclose');
    bad('cclose=C1,,C2', 'cclose');
  });

  it('type: jpp-stream is accepted unless ptype=ext', () => {
    const t = (v: string) => parseRequest(`type=${v}`).type;
    assert.deepEqual(t('jpp-stream'), { accepted: true, first: true, types: ['jpp-stream'] });
    assert.deepEqual(t('image/jpp-stream'), { accepted: true, first: true, types: ['image/jpp-stream'] });
    assert.deepEqual(t('JPP-Stream'), { accepted: true, first: true, types: ['JPP-Stream'] });
    assert.deepEqual(t('jpt-stream'), { accepted: false, first: false, types: ['jpt-stream'] });
    assert.deepEqual(t('raw'), { accepted: false, first: false, types: ['raw'] });
    assert.deepEqual(t('jpp-stream;ptype=ext'), { accepted: false, first: false, types: ['jpp-stream;ptype=ext'] });
    assert.deepEqual(t('jpt-stream;ttype=tiles,jpp-stream'), { accepted: true, first: false, types: ['jpt-stream;ttype=tiles', 'jpp-stream'] });
    bad('type=', 'type');
    bad('type=jpp%20stream', 'type');
    bad('type=jpp-stream;ptype', 'type');
    bad('type=jpp-stream,', 'type');
  });
});

describe('parseRequest: view-window fields', () => {
  it('fsiz with default and explicit rounding', () => {
    assert.deepEqual(parseRequest('fsiz=64,48').fsiz, { fx: 64, fy: 48, round: 'round-down', roundGiven: false });
    assert.deepEqual(parseRequest('fsiz=64,48,closest').fsiz, { fx: 64, fy: 48, round: 'closest', roundGiven: true });
    assert.deepEqual(parseRequest('fsiz=1,1,round-up').fsiz, { fx: 1, fy: 1, round: 'round-up', roundGiven: true });
    assert.deepEqual(parseRequest('fsiz=4294967295,2,round-down').fsiz, { fx: 4294967295, fy: 2, round: 'round-down', roundGiven: true });
    for (const v of ['0,5', '5,0', '5', '5,5,nearest', '5,5,closest,1', '5,,closest', '4294967296,1', '-1,5', '5,5,'])
      bad(`fsiz=${v}`, 'fsiz');
  });

  it('roff and rsiz need fsiz; rsiz ≥ 1', () => {
    assert.deepEqual(parseRequest('fsiz=10,10&roff=0,0&rsiz=1,2'), {
      fsiz: { fx: 10, fy: 10, round: 'round-down', roundGiven: false },
      roff: { x: 0, y: 0 },
      rsiz: { x: 1, y: 2 },
      unknown: [],
    });
    bad('roff=0,0', 'roff');
    bad('rsiz=5,5', 'rsiz');
    bad('fsiz=10,10&rsiz=0,5', 'rsiz');
    bad('fsiz=10,10&rsiz=5', 'rsiz');
    bad('fsiz=10,10&roff=1,2,3', 'roff');
    bad('fsiz=10,10&roff=4294967296,0', 'roff');
  });

  it('comps: UINT-RANGE list', () => {
    assert.deepEqual(parseRequest('comps=0,2-3,5-').comps, [{ from: 0, to: 0 }, { from: 2, to: 3 }, { from: 5, to: null }]);
    for (const v of ['3-1', '', '-3', '1,,2', '1:2', 'a']) bad(`comps=${v}`, 'comps');
    assert.equal(parseRequest(`comps=${Array(4096).fill('1').join(',')}`).comps?.length, 4096);
    bad(`comps=${Array(4097).fill('1').join(',')}`, 'comps');
  });

  it('stream: standard sampled ranges, not the a:b esajpip syntax', () => {
    assert.deepEqual(parseRequest('stream=0').stream, [one(0)]);
    assert.deepEqual(parseRequest('stream=10-20:5').stream, [one(10, 20, 5)]);
    assert.deepEqual(parseRequest('stream=3-,7-:2').stream, [one(3, null), one(7, null, 2)]);
    assert.deepEqual(parseRequest('stream=10:20').stream, [one(10, 10, 20)]);
    for (const v of ['20-10', '10-20:0', '1:', ':2', '1--2', '-1', '1-2-3']) bad(`stream=${v}`, 'stream');
  });

  it('context: jpxl with optional remap, mj2t with optional +now', () => {
    const c = (v: string) => parseRequest(`context=${v}`).context;
    assert.deepEqual(c('jpxl<3-3>'), [{ kind: 'jpxl', layers: [one(3)] }]);
    assert.deepEqual(c('jpxl<0-99:2>[s1i2]'), [{ kind: 'jpxl', layers: [one(0, 99, 2)], remap: { set: 1, index: 2 } }]);
    assert.deepEqual(c('jpxl<0-3,5>'), [{ kind: 'jpxl', layers: [one(0, 3), one(5)] }]);
    assert.deepEqual(c('jpxl%3C0-%3E%5Bs0i1%5D'), [{ kind: 'jpxl', layers: [one(0, null)], remap: { set: 0, index: 1 } }]);
    assert.deepEqual(c('mj2t<1>'), [{ kind: 'mj2t', track: 1, now: false }]);
    assert.deepEqual(c('jpxl<0>,mj2t<2+now>'), [
      { kind: 'jpxl', layers: [one(0)] },
      { kind: 'mj2t', track: 2, now: true },
    ]);
    for (const v of ['jpxl<3-1>', 'jpxl<>', 'foo<1>', 'jpxl<1>[s1]', 'jpxl<1', 'jpxl3', 'jpxl<1>,', 'mj2t<1+later>', 'mj2t<a>', 'jpxl<<1>>'])
      bad(`context=${encodeURIComponent(v)}`, 'context');
  });

  it('mset: sampled ranges', () => {
    assert.deepEqual(parseRequest('mset=0-10:2,12').mset, [one(0, 10, 2), one(12)]);
    bad('mset=2-1', 'mset');
  });
});

describe('parseRequest: flags and opaque fields', () => {
  it('wait and align take only yes|no', () => {
    assert.deepEqual(parseRequest('wait=yes&align=no'), { wait: true, align: false, unknown: [] });
    bad('wait=true', 'wait');
    bad('align=', 'align');
    bad('wait', 'wait');
  });

  it('handled is a flag', () => {
    assert.equal(parseRequest('handled').handled, true);
    assert.equal(parseRequest('handled=').handled, true);
    assert.equal(parseRequest('handled=no').handled, false);
    bad('handled=1', 'handled');
  });

  it('need, tpmodel, tpneed, pref, cap, roi are kept verbatim; empty is malformed', () => {
    const r = parseRequest('need=[0],P1&tpmodel=0.1&tpneed=0.2&pref=fullwindow/r&cap=mbins&roi=dynamic');
    assert.deepEqual(r, { need: '[0],P1', tpmodel: '0.1', tpneed: '0.2', pref: 'fullwindow/r', cap: 'mbins', roi: 'dynamic', unknown: [] });
    for (const f of ['need', 'tpmodel', 'tpneed', 'pref', 'cap', 'roi']) bad(`${f}=`, f);
  });
});

describe('metareq', () => {
  it('parses box props, limits, recursion, scope, priority, R and D', () => {
    assert.deepEqual(parseMetareq('[jp2h:r/w!;xml_:100]R5D2,[uuid/ga]!!'), {
      groups: [
        {
          props: [
            { type: 'jp2h', recurse: true, scope: 'w', priority: true },
            { type: 'xml ', limit: 100, recurse: false, scope: 'wsg', priority: false },
          ],
          root: 5,
          maxDepth: 2,
        },
        { props: [{ type: 'uuid', recurse: false, scope: 'ga', priority: false }] },
      ],
      metadataOnly: true,
    });
    assert.deepEqual(parseRequest('metareq=[xml_]').metareq, { groups: [{ props: [{ ...star, type: 'xml ' }] }], metadataOnly: false });
    assert.deepEqual(parseRequest('metareq=%5Bxml%20%5DD0').metareq, {
      groups: [{ props: [{ ...star, type: 'xml ' }], maxDepth: 0 }],
      metadataOnly: false,
    });
    assert.deepEqual(parseMetareq('[*]R9007199254740991'), { groups: [{ props: [star], root: Number.MAX_SAFE_INTEGER }], metadataOnly: false });
  });

  it('rejects malformed metareq', () => {
    for (const v of ['[*', '*', '[]', '[xm]', '[*]!', '[*]!!x', '[*:]', '[*/]', '[*/x]', '[*]R', '[*]D', '!!', '[*],', '[*]D2R5', '[*;]', '[*:r:5]'])
      bad(`metareq=${encodeURIComponent(v)}`, 'metareq');
  });
});

describe('model', () => {
  it('parses the Kakadu-style example of the notes', () => {
    const cs0 = [{ from: 0, to: 0 }];
    assert.deepEqual(parseRequest('model=[0],Hm,H0,P0,P3:120,P4,M0:2000').model, [
      { codestreams: cs0, bin: 'main', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'tile', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'precinct', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'precinct', id: 3, subtractive: false, bytes: 120 },
      { codestreams: cs0, bin: 'precinct', id: 4, subtractive: false },
      { codestreams: cs0, bin: 'meta', id: 0, subtractive: false, bytes: 2000 },
    ]);
  });

  it('qualifiers, wildcards, layers, subtractive items and the default qualifier', () => {
    assert.deepEqual(parseModel('P1,[1-3],-P*,T2:L3,[4-],H*'), [
      { codestreams: [{ from: 0, to: 0 }], bin: 'precinct', id: 1, subtractive: false },
      { codestreams: [{ from: 1, to: 3 }], bin: 'precinct', id: '*', subtractive: true },
      { codestreams: [{ from: 1, to: 3 }], bin: 'tile-jpt', id: 2, subtractive: false, layers: 3 },
      { codestreams: [{ from: 4, to: null }], bin: 'tile', id: '*', subtractive: false },
    ]);
    assert.deepEqual(parseModel('[0;2],P7:L0'), [
      { codestreams: [{ from: 0, to: 0 }, { from: 2, to: 2 }], bin: 'precinct', id: 7, subtractive: false, layers: 0 },
    ]);
  });

  it('implicit descriptors are unsupported, not malformed', () => {
    throwsCode(() => parseRequest('model=t0-3c0r1'), 'ERR_FIELD_UNSUPPORTED', 'model: implicit descriptors');
    throwsCode(() => parseModel('[0],-p5'), 'ERR_FIELD_UNSUPPORTED', 'model: implicit descriptors');
  });

  it('rejects malformed model items', () => {
    for (const v of ['X1', 'Hm:L3', 'M1:L2', 'P', 'P-1', 'P1:', 'P1:L', '[3-1],Hm', 'Hm,', ',Hm', '[0', '[0]]', '[],P1', '[[0]],P1', 'P1:L65536', 'hm', 'Hm5'])
      bad(`model=${encodeURIComponent(v)}`, 'model');
  });
});

describe('ranges', () => {
  it('parses and expands with open ends closed at max, duplicates dropped, bounded by limit', () => {
    const r = parseSampledRanges('10-20:5,3-,0', 'stream');
    assert.deepEqual(expandSampledRanges(r, 6, 100), [3, 4, 5, 6, 0]);
    assert.deepEqual(expandSampledRanges(r, 25, 100), [10, 15, 20, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19, 21, 22, 23, 24, 25, 0]);
    assert.deepEqual(expandSampledRanges(r, 25, 4), [10, 15, 20, 3]);
    assert.deepEqual(expandSampledRanges(parseUintRanges('0-', 'comps'), 2, 10), [0, 1, 2]);
    assert.deepEqual(expandSampledRanges(parseSampledRanges('0-4294967295', 's'), 4294967295, 3), [0, 1, 2]);
    assert.deepEqual(expandSampledRanges(r, -1, 10), []);
  });
});

describe('sample requests of the notes §1.6', () => {
  const cs0 = [{ from: 0, to: 0 }];
  it('JHelioviewer, newest', () => {
    assert.deepEqual(parseRequest('cnew=http&type=jpp-stream&tid=0&len=512'), {
      cnew: ['http'], type: { accepted: true, first: true, types: ['jpp-stream'] }, tid: '0', len: 512, unknown: [],
    });
    assert.deepEqual(parseRequest('cid=C&stream=0&metareq=[*]!!&len=2000000'), {
      cid: 'C', stream: [one(0)], metareq: { groups: [{ props: [star] }], metadataOnly: true }, len: 2000000, unknown: [],
    });
    assert.deepEqual(parseRequest('cid=C&stream=7&fsiz=64,64,closest&rsiz=64,64&len=2097152'), {
      cid: 'C', stream: [one(7)], fsiz: { fx: 64, fy: 64, round: 'closest', roundGiven: true }, rsiz: { x: 64, y: 64 }, len: 2097152, unknown: [],
    });
    assert.deepEqual(parseRequest('cid=C&stream=12&fsiz=1024,1024,closest&rsiz=1025,1025&len=2097152'), {
      cid: 'C', stream: [one(12)], fsiz: { fx: 1024, fy: 1024, round: 'closest', roundGiven: true }, rsiz: { x: 1025, y: 1025 }, len: 2097152, unknown: [],
    });
    assert.deepEqual(parseRequest('cclose=C&len=0'), { cclose: ['C'], len: 0, unknown: [] });
  });

  it('JHelioviewer, Kakadu era and 2.x', () => {
    assert.deepEqual(parseRequest('stream=0&fsiz=64,64,closest&rsiz=64,64&roff=0,0&len=2097152&cid=C'), {
      stream: [one(0)], fsiz: { fx: 64, fy: 64, round: 'closest', roundGiven: true }, rsiz: { x: 64, y: 64 }, roff: { x: 0, y: 0 }, len: 2097152, cid: 'C', unknown: [],
    });
    assert.deepEqual(parseRequest('context=jpxl<2-5>&layers=3&fsiz=512,512,closest&roff=8,16&rsiz=100,200&len=30000&cid=C'), {
      context: [{ kind: 'jpxl', layers: [one(2, 5)] }], layers: 3, fsiz: { fx: 512, fy: 512, round: 'closest', roundGiven: true },
      roff: { x: 8, y: 16 }, rsiz: { x: 100, y: 200 }, len: 30000, cid: 'C', unknown: [],
    });
    const cs1 = [{ from: 1, to: 1 }];
    assert.deepEqual(parseRequest('cid=C', 'model=[0],Hm,H0,P0,P1:123,[1],Hm').model, [
      { codestreams: cs0, bin: 'main', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'tile', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'precinct', id: 0, subtractive: false },
      { codestreams: cs0, bin: 'precinct', id: 1, subtractive: false, bytes: 123 },
      { codestreams: cs1, bin: 'main', id: 0, subtractive: false },
    ]);
  });

  it('webjpip.js', () => {
    const jpp = { accepted: true, first: true, types: ['jpp-stream'] };
    assert.deepEqual(parseRequest('type=jpp-stream&stream=0&len=10240&qid=1&cnew=http'), {
      type: jpp, stream: [one(0)], len: 10240, qid: 1, cnew: ['http'], unknown: [],
    });
    assert.deepEqual(parseRequest('type=jpp-stream&stream=0&tid=T1&wait=yes&fsiz=800,600,closest&rsiz=200,100&roff=10,20&layers=2&len=20480&qid=2&cid=C'), {
      type: jpp, stream: [one(0)], tid: 'T1', wait: true, fsiz: { fx: 800, fy: 600, round: 'closest', roundGiven: true },
      rsiz: { x: 200, y: 100 }, roff: { x: 10, y: 20 }, layers: 2, len: 20480, qid: 2, cid: 'C', unknown: [],
    });
    assert.deepEqual(parseRequest('type=jpp-stream&stream=0&len=10240&qid=1&cnew=http&cid=C0'), {
      type: jpp, stream: [one(0)], len: 10240, qid: 1, cnew: ['http'], cid: 'C0', unknown: [],
    });
    assert.deepEqual(parseRequest('type=jpp-stream&stream=0&wait=yes&len=10240&qid=9&cid=C'), {
      type: jpp, stream: [one(0)], wait: true, len: 10240, qid: 9, cid: 'C', unknown: [],
    });
    assert.deepEqual(parseRequest('type=jpp-stream&cclose=*&cid=C'), { type: jpp, cclose: '*', cid: 'C', unknown: [] });
  });

  it('jpip.js', () => {
    assert.deepEqual(parseRequest('len=40000000&metareq=[*]!!&type=jpp-stream&cnew=http&tid=0'), {
      len: 40000000, metareq: { groups: [{ props: [star] }], metadataOnly: true }, type: { accepted: true, first: true, types: ['jpp-stream'] },
      cnew: ['http'], tid: '0', unknown: [],
    });
    assert.deepEqual(parseRequest('cid=C&fsiz=256,256&roff=0,0&rsiz=256,256&len=40000&context=jpxl<4-4>'), {
      cid: 'C', fsiz: { fx: 256, fy: 256, round: 'round-down', roundGiven: false }, roff: { x: 0, y: 0 }, rsiz: { x: 256, y: 256 },
      len: 40000, context: [{ kind: 'jpxl', layers: [one(4)] }], unknown: [],
    });
    assert.deepEqual(parseRequest('cclose=C&len=0'), { cclose: ['C'], len: 0, unknown: [] });
  });

  it('OpenJPEG opj_viewer', () => {
    const jpp = { accepted: true, first: true, types: ['jpp-stream'] };
    assert.deepEqual(parseRequest('target=NAME.jp2&fsiz=640,480&cnew=http-tcp&type=jpp-stream'), {
      target: 'NAME.jp2', fsiz: { fx: 640, fy: 480, round: 'round-down', roundGiven: false }, cnew: ['http-tcp'], type: jpp, unknown: [],
    });
    assert.deepEqual(parseRequest('fsiz=640,480&roff=5,6&rsiz=70,80&cid=C&type=jpp-stream'), {
      fsiz: { fx: 640, fy: 480, round: 'round-down', roundGiven: false }, roff: { x: 5, y: 6 }, rsiz: { x: 70, y: 80 }, cid: 'C', type: jpp, unknown: [],
    });
    assert.deepEqual(parseRequest('cid=C&metareq=[xml_]'), {
      cid: 'C', metareq: { groups: [{ props: [{ ...star, type: 'xml ' }] }], metadataOnly: false }, unknown: [],
    });
    assert.deepEqual(parseRequest('cclose=C'), { cclose: ['C'], unknown: [] });
  });

  it('kdu_show (Kakadu v6.1), GET and POST', () => {
    assert.deepEqual(parseRequest('stream=0&len=2000&tid=0&type=jpp-stream&cnew=http'), {
      stream: [one(0)], len: 2000, tid: '0', type: { accepted: true, first: true, types: ['jpp-stream'] }, cnew: ['http'], unknown: [],
    });
    const q = 'fsiz=1000,800,round-up&roff=0,0&rsiz=500,400&comps=0-2&stream=0-&layers=4&metareq=%5Bxml_%3A100%2Fw!%5DR3D1!!&len=2000&cid=JPH_1';
    const expected = {
      fsiz: { fx: 1000, fy: 800, round: 'round-up' as const, roundGiven: true }, roff: { x: 0, y: 0 }, rsiz: { x: 500, y: 400 },
      comps: [{ from: 0, to: 2 }], stream: [one(0, null)], layers: 4,
      metareq: { groups: [{ props: [{ type: 'xml ', limit: 100, recurse: false, scope: 'w', priority: true }], root: 3, maxDepth: 1 }], metadataOnly: true },
      len: 2000, cid: 'JPH_1', unknown: [],
    };
    assert.deepEqual(parseRequest(q), expected);
    assert.deepEqual(parseRequest('', q), expected);
    assert.deepEqual(parseRequest('fsiz=64,64,closest&roff=0,0&rsiz=64,64&context=jpxl<0-9:3>[s0i0]&len=2000&cid=C', 'model=[0],Hm,P2:40,M0'), {
      fsiz: { fx: 64, fy: 64, round: 'closest', roundGiven: true }, roff: { x: 0, y: 0 }, rsiz: { x: 64, y: 64 },
      context: [{ kind: 'jpxl', layers: [one(0, 9, 3)], remap: { set: 0, index: 0 } }], len: 2000, cid: 'C',
      model: [
        { codestreams: cs0, bin: 'main', id: 0, subtractive: false },
        { codestreams: cs0, bin: 'precinct', id: 2, subtractive: false, bytes: 40 },
        { codestreams: cs0, bin: 'meta', id: 0, subtractive: false },
      ],
      unknown: [],
    });
  });
});
