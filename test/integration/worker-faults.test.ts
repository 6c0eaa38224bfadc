/**
 * Workers hold no state a client depends on: a worker that dies mid-request (process.exit in the
 * worker, or an unexpected throw) is replaced and the request re-run; the client sees a normal,
 * correct response and its channel goes on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JpipSession } from '../../src/client/session.js';
import { countdown } from '../../src/pool/faults.js';
import { startTestServer } from '../helpers/server.js';

/** The bytes of every data-bin of a session's cache, keyed by bin, for comparing two sessions. */
function binBytes(s: JpipSession): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of s.cache.keys()) out.set(`${k.cls}/${k.codestream}/${k.id}`, Buffer.from(s.cache.get(k)).toString('hex'));
  return out;
}

describe('worker replacement', () => {
  const what = { exitOnServe: 'exits', throwOnServe: 'throws', oomOnServe: 'runs out of memory' } as const;
  for (const mode of ['exitOnServe', 'throwOnServe', 'oomOnServe'] as const) {
    it(`a request whose worker ${what[mode]} mid-request is re-run invisibly`, async () => {
      const faulty = await startTestServer({ faults: { [mode]: countdown(2) }, workerHeapMb: 96 });
      const healthy = await startTestServer();
      try {
        const fields = { fsiz: '500,350', roff: '100,60', rsiz: '200,150', len: 3000 };
        const a = new JpipSession(faulty.base, 'gray1000-pcrl-p64-l4.j2k');
        const b = new JpipSession(healthy.base, 'gray1000-pcrl-p64-l4.j2k');
        await a.open({ len: 0 });
        await b.open({ len: 0 });
        const ra = await a.fetchWindow(fields);
        const rb = await b.fetchWindow(fields);
        assert.ok(ra.every((r) => r.status === 200));
        assert.deepEqual(ra.map((r) => r.eor), rb.map((r) => r.eor));
        assert.deepEqual(binBytes(a), binBytes(b));
        assert.ok(faulty.pool.stats().retried >= 2, `retried ${faulty.pool.stats().retried}`);
        assert.equal(a.cache.stats().duplicateMessages, 0);
        await a.close();
        await b.close();
      } finally {
        await faulty.stop();
        await healthy.stop();
      }
    });
  }
});
