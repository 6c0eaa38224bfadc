/**
 * Seeded property-based fuzzing (fast-check) of what untrusted input reaches: JPIP query strings,
 * model fields, codestream and box bytes, and the engine behind JpipService.handle(). Each property:
 * no input may make the code throw anything but a JpipdError (a 4xx with a reason), or answer 5xx.
 * Sized to run in seconds here; JPIPD_FUZZ_RUNS=20000 (npm run fuzz) runs longer. A failure prints its
 * seed and shrunk input: add that input to the regression list at the end of this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { BufferSource } from '../../src/bytes/source.js';
import { JpipdError } from '../../src/errors.js';
import { scanTarget } from '../../src/j2k/boxes.js';
import { tileCount, tileGeometry } from '../../src/j2k/geometry.js';
import { parseModel } from '../../src/jpip/model-field.js';
import { parseRequest } from '../../src/jpip/request.js';
import { buildLevels } from '../../src/packet-index/builder.js';
import { buildDirectory } from '../../src/packet-index/directory.js';
import { createHarness } from '../../src/server/server.js';
import type { Reply } from '../../src/server/service.js';

const RUNS = Number(process.env.JPIPD_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.JPIPD_FUZZ_SEED ?? 20261130);
const FIX = new URL('../fixtures/', import.meta.url);

/** Runs `f`; anything thrown must be a JpipdError. */
function onlyJpipdErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof JpipdError)) throw e;
  }
}

const FIELDS = ['target', 'tid', 'cid', 'cnew', 'cclose', 'qid', 'type', 'fsiz', 'roff', 'rsiz', 'comps', 'stream', 'context', 'layers', 'len', 'quality', 'model', 'need', 'metareq', 'align', 'wait', 'pref', 'subtarget', 'mset', 'roi'];
const VALUE_CHARS = '0123456789,-:[]<>;*!%=&abcdefjpxlPHMhtcrsm_.+ ';
const value = fc.oneof(
  fc.string({ unit: fc.constantFrom(...VALUE_CHARS.split('')), maxLength: 40 }),
  fc.integer({ min: -5, max: 2 ** 33 }).map(String),
  fc.tuple(fc.nat(70000), fc.nat(70000), fc.constantFrom('', ',round-up', ',closest', ',x')).map(([a, b, r]) => `${a},${b}${r}`),
);
const query = fc.array(fc.tuple(fc.constantFrom(...FIELDS), value), { maxLength: 8 }).map((kv) => kv.map(([k, v]) => `${k}=${v}`).join('&'));
/** Well-formed window requests (so that most reach the engine), with values around the images' sizes. */
const small = fc.nat(1100);
const windowQuery = fc
  .record({
    fsiz: fc.tuple(small, small, fc.constantFrom('', ',round-up', ',closest')),
    roff: fc.option(fc.tuple(small, small), { nil: undefined }),
    rsiz: fc.option(fc.tuple(small, small), { nil: undefined }),
    comps: fc.option(fc.tuple(fc.nat(1), fc.nat(3)), { nil: undefined }),
    stream: fc.option(fc.tuple(fc.constant(0), fc.nat(3)), { nil: undefined }),
    layers: fc.option(fc.nat(10), { nil: undefined }),
    len: fc.option(fc.nat(200_000), { nil: undefined }),
    model: fc.option(fc.array(fc.tuple(fc.constantFrom('P', 'H', '-P', 'M'), fc.nat(8), fc.option(fc.nat(5000), { nil: undefined })), { maxLength: 5 }), { nil: undefined }),
    cnew: fc.boolean(),
  })
  .map((r) => {
    const q = [`fsiz=${r.fsiz[0]},${r.fsiz[1]}${r.fsiz[2]}`];
    if (r.roff) q.push(`roff=${r.roff[0]},${r.roff[1]}`);
    if (r.rsiz) q.push(`rsiz=${r.rsiz[0]},${r.rsiz[1]}`);
    if (r.comps) q.push(`comps=${Math.min(...r.comps)}-${Math.max(...r.comps)}`);
    if (r.stream) q.push(`stream=${Math.min(...r.stream)}-${Math.max(...r.stream)}`);
    if (r.layers !== undefined) q.push(`layers=${r.layers}`);
    if (r.len !== undefined) q.push(`len=${r.len}`);
    if (r.model && r.model.length > 0) q.push(`model=${r.model.map(([k, id, b]) => `${k}${id}${b !== undefined && k !== '-P' ? `:${b}` : ''}`).join(',')}`);
    if (r.cnew) q.push('cnew=http&type=jpp-stream');
    return q.join('&');
  });

test('parseRequest: any query string is parsed or refused with a JpipdError', () => {
  fc.assert(
    fc.property(fc.oneof(query, fc.string({ maxLength: 200 })), (q) => onlyJpipdErrors(() => parseRequest(q))),
    { seed: SEED, numRuns: RUNS * 5 },
  );
});

test('model=: the one-pass parser of plain descriptor lists agrees with the general parser', () => {
  const token = fc.oneof(
    fc.tuple(fc.constantFrom('', '-'), fc.constantFrom('P', 'H', 'M', 'T', 'Hm', 'X', 'p'), fc.oneof(fc.nat(2 ** 53).map(String), fc.constantFrom('', '*', '007', '0', '1e3', '9007199254740993')), fc.constantFrom('', ':', ':L', ':0', ':12', ':L3', ':x', ':99999999999999999')).map((t) => t.join('')),
    fc.string({ unit: fc.constantFrom(...'PHM0123:L-*'.split('')), maxLength: 8 }),
  );
  const outcome = (v: string): unknown => {
    try {
      return parseModel(v).map((i) => ({ ...i, codestreams: undefined }));
    } catch (e) {
      if (!(e instanceof JpipdError)) throw e;
      return e.code;
    }
  };
  fc.assert(
    fc.property(fc.array(token, { minLength: 1, maxLength: 6 }), (tokens) => {
      const plain = tokens.join(',');
      // A leading qualifier for codestream 0 forces the general path with the same meaning.
      assert.deepEqual(outcome(plain), outcome(`[0],${plain}`), plain);
    }),
    { seed: SEED, numRuns: RUNS * 5 },
  );
});

const SMALL = ['rgb96.jp2', 'gray257-n6-defprec-l2.j2k', 'gray257-sop-eph-lrcp-noplt.j2k', 'gray257-htj2k-rpcl-p32.j2k', 'frames3-128.jpx', 'gray257-bypass-noplt.j2k'];

test('codestream and box bytes: any mutation scans, indexes or is refused with a JpipdError, quickly', () => {
  const files = SMALL.map((n) => new Uint8Array(readFileSync(new URL(n, FIX))));
  const mutation = fc.record({
    file: fc.nat(files.length - 1),
    edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  fc.assert(
    fc.property(mutation, ({ file, edits, cut }) => {
      const bytes = files[file].slice(0, cut === undefined ? undefined : Math.max(12, cut % files[file].length));
      // Mutate mostly the headers (the first 600 bytes), where the structure is.
      for (const [at, v] of edits) bytes[at % Math.min(bytes.length, 600)] = v;
      const t0 = performance.now();
      onlyJpipdErrors(() => {
        const layout = scanTarget(new BufferSource(bytes));
        for (const cs of layout.codestreams) {
          if (cs.broken) continue;
          onlyJpipdErrors(() => {
            const dir = buildDirectory(tileCount(cs.siz), cs.siz.Csiz, (t) => tileGeometry(cs, t));
            buildLevels(new BufferSource(bytes), cs, dir, (t) => tileGeometry(cs, t), 0, dir.levels - 1);
          });
        }
      });
      assert.ok(performance.now() - t0 < 5000, 'bounded work');
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('the engine: random requests on real images get an answer (200, 4xx, 501, 503), never a throw or a 500', async () => {
  const h = createHarness({ root: new URL('.', FIX).pathname, threads: 1, cacheDir: null });
  const targets = ['rgb96.jp2', 'gray1000-lrcp-noplt.j2k', 'frames3-128.jpx', 'gray1000-tiled-t256-off-pcrl.j2k', 'gray257-htj2k-rpcl-p32.j2k', 'jpip'];
  const request = fc.record({ target: fc.constantFrom(...targets), q: fc.oneof({ arbitrary: windowQuery, weight: 4 }, { arbitrary: query, weight: 1 }) });
  let served = 0;
  try {
    await fc.assert(
      fc.asyncProperty(request, async ({ target, q }) => {
        let r = h.service.handle({ method: 'GET', path: `/${target}`, query: q });
        if (r instanceof Promise) r = await r;
        const reply = r as Reply;
        // 501 (a field jpipd does not do) and 503 (a limit) are answers; 500 is a server fault.
        assert.ok(reply.status !== 500 && reply.status < 600, `${reply.status} for /${target}?${q}: ${new TextDecoder().decode(reply.body).slice(0, 120)}`);
        while (reply.more) reply.next();
        if (reply.status === 200) served++;
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The generator must reach the engine, not only the parser.
    assert.ok(served > RUNS / 4, `${served} of ${RUNS} requests served`);
  } finally {
    await h.close();
  }
});
