/**
 * The hybrid index (ESA paper): the first open of an image writes a small versioned cache file in
 * the cache directory (never in the image root); later opens load it instead of scanning; a changed
 * file (size or mtime) is re-indexed; a corrupt cache file is ignored.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FileCache } from '../../src/io/file-source.js';
import { INDEX_FORMAT, INDEX_VERSION, indexPath } from '../../src/io/index-cache.js';
import { loadTarget } from '../../src/io/targets.js';
import { JpipSession } from '../../src/client/session.js';
import { FIXTURES, startTestServer } from '../helpers/server.js';

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('index cache files', () => {
  it('are written on first open, loaded on the next, and invalidated by a changed file', () => {
    const root = tempDir('jpipd-root-');
    const cache = tempDir('jpipd-cache-');
    const files = new FileCache(4);
    try {
      const abs = path.join(root, 'a.jp2');
      fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), abs);
      const first = loadTarget(abs, 'a.jp2', root, cache, files);
      assert.equal(first.fromCache, false);
      const file = indexPath(cache, 'a.jp2');
      const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(stored.format, INDEX_FORMAT);
      assert.equal(stored.version, INDEX_VERSION);
      assert.ok(fs.statSync(file).size < 16 * 1024, 'small');
      assert.deepEqual(fs.readdirSync(root), ['a.jp2'], 'nothing written inside the image root');
      const second = loadTarget(abs, 'a.jp2', root, cache, files);
      assert.equal(second.fromCache, true);
      assert.deepEqual(second.layout, first.layout);
      // A different image under the same name: re-indexed, not served from the stale entry.
      fs.copyFileSync(path.join(FIXTURES, 'frames3-128.jpx'), abs);
      const future = new Date(Date.now() + 5000);
      fs.utimesSync(abs, future, future);
      files.closeAll();
      const third = loadTarget(abs, 'a.jp2', root, cache, files);
      assert.equal(third.fromCache, false);
      assert.equal(third.layout.codestreams.length, 3);
      // A corrupt cache file is ignored and rewritten.
      fs.writeFileSync(file, '{"format":"jpipd-index","version":1,');
      const fourth = loadTarget(abs, 'a.jp2', root, cache, files);
      assert.equal(fourth.fromCache, false);
      assert.equal(loadTarget(abs, 'a.jp2', root, cache, files).fromCache, true);
    } finally {
      files.closeAll();
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('survive a server restart: the second server opens images from the cache and serves the same bytes', async () => {
    const first = await startTestServer();
    const cacheDir = first.cacheDir;
    const a = new JpipSession(first.base, 'gray1000-rpcl-p64-l4.j2k');
    await a.open({ len: 0 });
    await a.fetchWindow({ fsiz: '250,175', len: 5000 });
    const opened1 = first.service.catalog.open('gray1000-rpcl-p64-l4.j2k', path.join(FIXTURES, 'gray1000-rpcl-p64-l4.j2k'));
    assert.equal(opened1.fromCache, false);
    await first.close(); // keep the cache directory
    const second = await startTestServer({ cacheDir });
    try {
      const opened2 = second.service.catalog.open('gray1000-rpcl-p64-l4.j2k', path.join(FIXTURES, 'gray1000-rpcl-p64-l4.j2k'));
      assert.equal(opened2.fromCache, true);
      const b = new JpipSession(second.base, 'gray1000-rpcl-p64-l4.j2k');
      await b.open({ len: 0 });
      await b.fetchWindow({ fsiz: '250,175', len: 5000 });
      for (const k of a.cache.keys()) assert.deepEqual(b.cache.get(k), a.cache.get(k));
      assert.equal(a.cache.keys().length, b.cache.keys().length);
    } finally {
      await second.stop();
    }
  });
});
