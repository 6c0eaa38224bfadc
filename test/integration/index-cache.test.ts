/**
 * The hybrid index (ESA paper): the first open of an image writes a small versioned cache file in
 * the cache directory (never in the image root); later opens load it instead of scanning; a changed
 * file (size or mtime) is re-indexed; a corrupt cache file is ignored. Entries are keyed on the real
 * path and checked against the content's fingerprint and the file's size; the folder must be private.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FileCache } from '../../src/io/file-source.js';
import { INDEX_FORMAT, INDEX_VERSION, indexPath, privateCacheDir } from '../../src/io/index-cache.js';
import { loadTarget } from '../../src/io/targets.js';
import { JpipSession } from '../../src/client/session.js';
import { FIXTURES, startTestServer } from '../helpers/server.js';

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('index cache trust', () => {
  it('an image with the same name, size and mtime under another root does not get the first one\'s layout', () => {
    const rootA = tempDir('jpipd-root-a-');
    const rootB = tempDir('jpipd-root-b-');
    const cache = tempDir('jpipd-cache-');
    const files = new FileCache(4);
    try {
      // Two different codestreams of exactly the same size (the same 1000x700 image in two orders).
      const a = path.join(rootA, 'img.j2k');
      const b = path.join(rootB, 'img.j2k');
      fs.copyFileSync(path.join(FIXTURES, 'gray1000-lrcp-p64-l4.j2k'), a);
      fs.copyFileSync(path.join(FIXTURES, 'gray1000-rpcl-p64-l4.j2k'), b);
      assert.equal(fs.statSync(a).size, fs.statSync(b).size);
      const when = new Date('2026-01-01T00:00:00Z');
      fs.utimesSync(a, when, when);
      fs.utimesSync(b, when, when);
      const la = loadTarget(a, 'img.j2k', rootA, cache, files);
      const lb = loadTarget(b, 'img.j2k', rootB, cache, files);
      assert.equal(lb.fromCache, false, 'another real path: scanned');
      assert.notDeepEqual(lb.layout.codestreams[0].cod.progression, la.layout.codestreams[0].cod.progression);
      // The same path rewritten with other content of the same size and mtime: the fingerprint differs.
      files.closeAll();
      fs.copyFileSync(path.join(FIXTURES, 'gray1000-cprl-p64-l4.j2k'), a);
      fs.utimesSync(a, when, when);
      const again = loadTarget(a, 'img.j2k', rootA, cache, files);
      assert.equal(again.fromCache, false, 'other content: scanned again');
      assert.equal(again.layout.codestreams[0].cod.progression, 4 /* CPRL */);
    } finally {
      files.closeAll();
      for (const d of [rootA, rootB, cache]) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a cache file whose layout points outside the file is not trusted', () => {
    const root = tempDir('jpipd-root-');
    const cache = tempDir('jpipd-cache-');
    const files = new FileCache(4);
    try {
      const abs = path.join(root, 'a.jp2');
      fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), abs);
      loadTarget(abs, 'a.jp2', root, cache, files);
      const file = indexPath(cache, abs);
      const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      stored.layout.codestreams[0].tileParts[0].dataEnd = 10_000_000; // forged: past the end
      fs.writeFileSync(file, JSON.stringify(stored));
      const l = loadTarget(abs, 'a.jp2', root, cache, files);
      assert.equal(l.fromCache, false, 'rescanned');
      assert.ok(l.layout.codestreams[0].tileParts[0].dataEnd <= fs.statSync(abs).size);
    } finally {
      files.closeAll();
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('only a private folder is used: created 0700, refused when others may write it', () => {
    const parent = tempDir('jpipd-parent-');
    try {
      const made = privateCacheDir(path.join(parent, 'cache'));
      assert.ok(made);
      assert.equal(fs.statSync(made).mode & 0o777, 0o700);
      const open = path.join(parent, 'open');
      fs.mkdirSync(open);
      fs.chmodSync(open, 0o777);
      assert.equal(privateCacheDir(open), null, 'world-writable');
      fs.symlinkSync(made, path.join(parent, 'link'));
      assert.equal(privateCacheDir(path.join(parent, 'link')), null, 'a symbolic link');
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});

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
      const file = indexPath(cache, abs);
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
