/**
 * Pool workers hold no state a client depends on: a worker that dies in the middle of heavy work
 * (loading a layout, indexing levels) — process.exit in the worker, an unexpected throw, running out
 * of memory — is replaced and the task re-run; the client sees a normal, correct response and its
 * channel goes on. The servers here hand all such work to the pool (inline budgets of zero).
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
  const what = { exitOnTask: 'exits', throwOnTask: 'throws', oomOnTask: 'runs out of memory' } as const;
  const poolOnly = { inlineBudget: { maxReads: 0, maxLinks: 0, maxCacheFileBytes: 0 }, inlineIndexBytes: 0 };
  for (const mode of ['exitOnTask', 'throwOnTask', 'oomOnTask'] as const) {
    it(`a request whose pool worker ${what[mode]} mid-task is re-run invisibly`, async () => {
      const faulty = await startTestServer({ faults: { [mode]: countdown(2) }, workerHeapMb: 96, ...poolOnly });
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

  it('a worker that dies holding the index write lock (inside publishLevels) is recovered: the table is failed and rebuilt', async () => {
    const faulty = await startTestServer({ faults: { exitInPublish: countdown(1) }, ...poolOnly });
    const healthy = await startTestServer();
    try {
      const fields = { fsiz: '1000,700', roff: '300,200', rsiz: '300,200', len: 5000 };
      const a = new JpipSession(faulty.base, 'gray1000-lrcp-p64-l4.j2k');
      const b = new JpipSession(healthy.base, 'gray1000-lrcp-p64-l4.j2k');
      await a.open({ len: 0 });
      await b.open({ len: 0 });
      const t0 = performance.now();
      const ra = await a.fetchWindow(fields);
      const ms = performance.now() - t0;
      await b.fetchWindow(fields);
      assert.ok(ra.every((r) => r.status === 200), `statuses ${ra.map((r) => r.status)}`);
      assert.deepEqual(binBytes(a), binBytes(b), 'the same bytes as a server that never failed');
      const st = faulty.registry.stats();
      assert.equal(st.recovered, 1, "the dead writer's table was failed");
      assert.equal(st.replaced, 1, 'and replaced by a fresh one');
      // Without recovery every later request would wait on a lock no one will release (10 s per try).
      assert.ok(ms < 8000, `the window took ${ms.toFixed(0)} ms`);
      await a.close();
      await b.close();
    } finally {
      await faulty.stop();
      await healthy.stop();
    }
  });
});

