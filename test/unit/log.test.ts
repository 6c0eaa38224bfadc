import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonLog } from '../../src/cli/log.js';

function withFile(run: (fd: number, read: () => string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-log-'));
  const file = path.join(dir, 'log');
  const fd = fs.openSync(file, 'w');
  try {
    run(fd, () => fs.readFileSync(file, 'utf8'));
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('JSON lines in pino’s shape, filtered by level, written in batches', () => {
  withFile((fd, read) => {
    const log = new JsonLog({ fd, level: 'info', batchBytes: 1 << 20 });
    log.write('debug', { event: 'hidden' });
    log.info({ event: 'request', status: 200, target: 'a/b.jp2' });
    log.warn({ event: 'slow' }, 'ünïcode message');
    assert.equal(read(), '', 'nothing is written before a flush');
    log.flush();
    const lines = read().trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual({ ...lines[0], time: 0 }, { level: 30, time: 0, event: 'request', status: 200, target: 'a/b.jp2' });
    assert.equal(lines[1].level, 40);
    assert.equal(lines[1].msg, 'ünïcode message');
    assert.ok(Math.abs(lines[0].time - Date.now()) < 60_000);
  });
});

test('a full batch is written at once; a silent log writes nothing', () => {
  withFile((fd, read) => {
    const log = new JsonLog({ fd, batchBytes: 200 });
    for (let i = 0; i < 10; i++) log.info({ i, pad: 'x'.repeat(40) });
    const early = read().trim().split('\n');
    assert.ok(early.length >= 3 && early.length < 10, `written early: ${early.length}`);
    log.flush();
    assert.deepEqual(read().trim().split('\n').map((l) => JSON.parse(l).i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const silent = new JsonLog({ fd, level: 'silent' });
    silent.error({ event: 'x' });
    silent.flush();
    assert.equal(read().trim().split('\n').length, 10);
  });
});

test('a broken descriptor loses lines without throwing; the queue is bounded', () => {
  const log = new JsonLog({ fd: 987654, maxQueuedBytes: 1000, batchBytes: 1 << 20 });
  for (let i = 0; i < 100; i++) log.info({ i, pad: 'y'.repeat(50) });
  assert.ok(log.dropped > 80, `dropped ${log.dropped}`);
  assert.doesNotThrow(() => log.flush());
  assert.ok(log.dropped > 80);
});
