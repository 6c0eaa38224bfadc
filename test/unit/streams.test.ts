/**
 * Streams.file under a burst of new clients (src/server/streams.ts): while a pool worker loads a file
 * too large to open inline, later requests for it wait on that load instead of each scanning the file
 * again up to the inline budget (100 clients opening a 60-frame movie at once read ~300 MB of 64 KiB
 * windows on the front-end thread before this).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Catalog } from '../../src/io/catalog.js';
import { FileCache } from '../../src/io/file-source.js';
import { loadTarget } from '../../src/io/targets.js';
import { IndexRegistry } from '../../src/packet-index/registry.js';
import { Streams, Wait } from '../../src/server/streams.js';
import type { HeavyWork } from '../../src/server/thread-links.js';
import type { OpenResult, OpenTask } from '../../src/pool/messages.js';

const ROOT = fs.realpathSync(path.resolve(import.meta.dirname, '../fixtures'));
const REL = 'frames3-128.jpx';

test('one inline attempt and one pool load for many concurrent opens of a large file', async () => {
  // A budget of no reads: every file here is "too large to open inline".
  const catalog = new Catalog({ root: ROOT, cacheDir: null, budget: { maxReads: 0 } });
  let inline = 0;
  const open = catalog.open.bind(catalog);
  catalog.open = (rel, abs, now) => {
    inline++;
    return open(rel, abs, now);
  };
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  let loads = 0;
  const pool: HeavyWork = {
    open: async (t: OpenTask): Promise<OpenResult> => {
      loads++;
      await gate;
      const l = loadTarget(t.abs, t.rel, t.root, t.cacheDir, new FileCache());
      return { ok: true, layout: l.layout, stamp: l.stamp, fromCache: l.fromCache };
    },
    index: () => Promise.reject(new Error('not used')),
  };
  const streams = new Streams(catalog, new IndexRegistry(), pool);
  const abs = path.join(ROOT, REL);
  const waits: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    try {
      streams.file(REL, abs);
      assert.fail('a file over the inline budget cannot open at once');
    } catch (e) {
      assert.ok(e instanceof Wait, String(e));
      waits.push(e.promise);
    }
  }
  assert.equal(inline, 1, 'inline scans');
  assert.equal(loads, 1, 'pool loads');
  release();
  await Promise.all(waits);
  const f = streams.file(REL, abs);
  assert.equal(f.rel, REL);
  assert.equal(f.layout.codestreams.length, 3);
  assert.equal(loads, 1);
});
