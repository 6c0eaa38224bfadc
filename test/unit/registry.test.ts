/**
 * The index registry: one shared table per (image version, codestream) for every thread, reference
 * counted by sessions, and unreferenced versions dropped least recently used first when shared
 * index memory exceeds the budget (threads are told through onEvict).
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { JpipdError } from '../../src/errors.js';
import { IndexRegistry } from '../../src/packet-index/registry.js';
import { indexByteLength, SharedPacketIndex } from '../../src/packet-index/shared-index.js';

const isCode = (code: string) => (e: unknown): boolean => e instanceof JpipdError && e.code === code;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

describe('index registry', () => {
  it('hands every caller the same table per version and codestream, sized as asked', () => {
    const reg = new IndexRegistry(1 << 30);
    const a = reg.table('x|1|1', 0, 10_000);
    assert.equal(reg.table('x|1|1', 0, 10_000), a, 'one shared table');
    assert.notEqual(reg.table('x|1|1', 1, 10_000), a, 'another codestream, another table');
    assert.notEqual(reg.table('x|2|2', 0, 10_000), a, 'another version (the file changed), another table');
    assert.equal(SharedPacketIndex.attach(a).slotCount, 10_000);
    assert.equal(reg.stats().indexBytes, 3 * indexByteLength(10_000));
    assert.throws(() => reg.table('x|1|1', 0, 5), isCode('ERR_INTERNAL'), 'a table asked with another size is a bug');
  });

  it('keeps index memory within the budget by dropping unreferenced versions, least recently used first', async () => {
    const one = indexByteLength(10_000);
    const reg = new IndexRegistry(3 * one);
    const evicted: string[] = [];
    reg.onEvict = (k) => evicted.push(k);
    reg.acquire('held');
    reg.table('held', 0, 10_000);
    await tick();
    reg.table('old', 0, 10_000);
    await tick();
    reg.table('new', 0, 10_000);
    assert.equal(reg.stats().indexBytes, 3 * one);
    await tick();
    reg.table('newest', 0, 10_000);
    assert.deepEqual(evicted, ['old'], 'the least recently used unreferenced version goes first');
    assert.equal(reg.stats().indexBytes, 3 * one);
    assert.equal(reg.stats().evictions, 1);
    const again = reg.table('old', 0, 10_000);
    assert.ok(again instanceof SharedArrayBuffer, 'an evicted version gets a fresh table');
    assert.deepEqual(evicted, ['old', 'new']);
    reg.release('held');
    assert.equal(reg.refs('held'), 0);
    for (const k of ['a', 'b', 'c']) {
      await tick();
      reg.table(k, 0, 10_000);
    }
    assert.ok(evicted.includes('held'), 'released versions can be evicted');
  });

  it('refuses a table larger than the whole budget, and forgets versions nobody uses', () => {
    const reg = new IndexRegistry(indexByteLength(100));
    assert.throws(() => reg.table('big', 0, 1000), isCode('ERR_INDEX_BUDGET'));
    reg.acquire('k');
    reg.acquire('k');
    assert.equal(reg.refs('k'), 2);
    reg.release('k');
    reg.release('k');
    reg.release('k');
    assert.equal(reg.refs('k'), 0);
    assert.equal(reg.stats().images, 0, 'a version with no table and no user is dropped');
  });
});

test('a retired version (its file changed) is dropped when its last session ends, and its bytes with it', () => {
  const reg = new IndexRegistry(1 << 30);
  const dropped: string[] = [];
  reg.onEvict = (k) => dropped.push(k);
  // Five rewrites of one file while a session holds each version.
  for (let v = 0; v < 5; v++) {
    reg.acquire(`img@${v}`);
    reg.table(`img@${v}`, 0, 10_000);
  }
  const one = reg.stats().indexBytes / 5;
  for (let v = 0; v < 4; v++) reg.retire(`img@${v}`); // the catalog saw each change
  assert.equal(reg.stats().indexBytes, 5 * one, 'still used: kept');
  for (let v = 0; v < 4; v++) reg.release(`img@${v}`);
  assert.equal(reg.stats().indexBytes, one, 'only the current version is counted');
  assert.deepEqual(dropped, ['img@0', 'img@1', 'img@2', 'img@3'], 'threads were told to drop their views');
  // Retiring an unused version drops it at once; a release without its acquire is counted, not hidden.
  reg.release('img@4');
  reg.retire('img@4');
  assert.equal(reg.stats().indexBytes, 0);
  reg.release('img@4');
  reg.release('never');
  assert.equal(reg.stats().unmatchedReleases, 2);
});
