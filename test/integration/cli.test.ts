/**
 * The command line as a user runs it (a real child process): `index` builds cache files with a
 * progress report and names broken images; `serve` answers on its port and stops on SIGTERM;
 * bad arguments print a clear message and exit with code 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { indexFolder } from '../../src/cli/index-command.js';
import { FIXTURES, listeningUrl } from '../helpers/server.js';

const ENTRY = path.resolve(import.meta.dirname, '../../src/cli/entry.ts');
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('jpipd CLI', () => {
  it('exits 2 with a clear message on bad arguments', () => {
    for (const args of [[], ['frobnicate'], ['serve'], ['serve', '--root', '/nonexistent-jpipd-dir'], ['serve', '--root', FIXTURES, '--port', '99999'], ['serve', '--root', FIXTURES, '--bogus'], ['index'], ['serve', '--root', FIXTURES, '--threads', 'many']]) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^jpipd: .+\nusage:/);
    }
  });

  it('index builds one cache file per good image and reports broken ones', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-cli-root-'));
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-cli-cache-'));
    try {
      fs.mkdirSync(path.join(root, 'sub'));
      fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(root, 'a.jp2'));
      fs.copyFileSync(path.join(FIXTURES, 'frames3-128.jpx'), path.join(root, 'sub', 'm.jpx'));
      fs.copyFileSync(path.join(FIXTURES, 'gray257-truncated.j2k'), path.join(root, 'bad.j2k'));
      const r = cli(['index', root, '--cache-dir', cache, '--threads', '2']);
      assert.equal(r.status, 1, r.stderr);
      const report = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      assert.equal(report.images, 3);
      assert.equal(report.threads, 2);
      assert.equal(report.indexed, 2);
      assert.equal(report.failed, 1);
      assert.equal(report.failures[0].image, 'bad.j2k');
      assert.equal(report.failures[0].code, 'ERR_IMAGE_CORRUPT');
      assert.match(r.stderr, /3\/3/);
      assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.idx.json')).length, 2);
      const again = cli(['index', root, '--cache-dir', cache]);
      assert.equal(JSON.parse(again.stdout.trim().split('\n').pop() as string).cached, 2);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('index runs on pool threads and resumes where an interrupted run stopped', { timeout: 60_000 }, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-cli-root-'));
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-cli-cache-'));
    const sink = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    sink.resume();
    try {
      const images: string[] = [];
      for (let i = 0; i < 40; i++) {
        const rel = `f${String(i).padStart(3, '0')}.j2k`;
        // Every fourth image has no PLT: its packet headers are decoded once and the lengths kept.
        fs.copyFileSync(path.join(FIXTURES, i % 4 === 3 ? 'gray257-bypass-noplt.j2k' : i % 2 ? 'gray257-eph-tlm.j2k' : 'gray257-bypass-l3.j2k'), path.join(root, rel));
        images.push(rel);
      }
      const real = fs.realpathSync(root);
      // Interrupted after 12 images were handed out: those finish, the rest are left.
      let asked = 0;
      const first = await indexFolder(real, images, cache, sink, 2, () => ++asked > 12);
      assert.equal(first.interrupted, true);
      assert.equal(first.threads, 2);
      assert.equal(first.indexed, 12);
      assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.idx.json')).length, 12, 'each finished image has its cache file');
      assert.equal(first.withoutPlt, 3);
      assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.len.json')).length, 3, 'learnt packet lengths of the images without PLT');
      // The next run reads those back and indexes only the rest.
      const second = await indexFolder(real, images, cache, sink, 2);
      assert.deepEqual([second.interrupted, second.cached, second.indexed, second.failed, second.withoutPlt], [false, 12, 28, 0, 10]);
      assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.len.json')).length, 10);
      assert.ok(second.perSecond > 0);
      assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.idx.json')).length, 40);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('serve listens on the given port, logs JSON lines, and stops on SIGTERM', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-cli-cache-'));
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'serve', '--root', FIXTURES, '--host', '127.0.0.1', '--port', '0', '--threads', '1', '--cache-dir', cache], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const listening = listeningUrl(child);
      const url = await listening.url;
      const res = await fetch(`${url}/rgb96.jp2?type=jpp-stream&fsiz=48,32&len=2000`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      assert.equal(code, 0);
      for (const line of listening.logs().trim().split('\n')) JSON.parse(line);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
