/**
 * The CLI exactly as `npm install` builds it: bin/jpipd.js runs the esbuild bundle in dist/app, whose
 * front-end worker (front-worker.js) and pool worker (worker.js) are separate entry files found next to
 * the bundle's chunks at run time. The other tests run the TypeScript sources, so only this one proves
 * that the shipped build starts its threads and serves, and that its `get` client runs. A missing build is a failure, not a skip:
 * `npm install` (the README's first command) always builds it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, listeningUrl } from '../helpers/server.js';
import { parseJppStream } from '../../src/client/jpp-parser.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/jpipd.js');
const BUNDLE = path.resolve(import.meta.dirname, '../../dist/app');

describe('the built CLI (dist/app bundle)', { timeout: 120_000 }, () => {
  it('is built, and serves from the main thread, a worker front end and the pool', async () => {
    for (const f of ['entry.js', 'front-worker.js', 'worker.js']) assert.ok(fs.existsSync(path.join(BUNDLE, f)), `dist/app/${f} is missing: run npm install (or npm run build)`);
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-built-root-')));
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-built-cache-'));
    // A linked movie of more frames than a front end opens inline (64 links): opening it is pool work.
    const frames = path.join(root, 'frames');
    fs.mkdirSync(frames);
    for (let i = 0; i < 70; i++) fs.copyFileSync(path.join(FIXTURES, 'movie-frames', `aia_000${(i % 3) + 1}.jp2`), path.join(frames, `f${String(i).padStart(3, '0')}.jp2`));
    const made = spawnSync(process.execPath, [BIN, 'movie', '--out', path.join(root, 'movie.jpx'), frames], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(made.status, 0, made.stderr);
    fs.copyFileSync(path.join(FIXTURES, 'rgb96.jp2'), path.join(root, 'rgb96.jp2'));
    const child = spawn(process.execPath, [BIN, 'serve', '--root', root, '--port', '0', '--threads', '2', '--min-threads', '2', '--pool-threads', '1', '--cache-dir', cache], { stdio: ['ignore', 'pipe', 'pipe'] });
    const listening = listeningUrl(child);
    try {
      const url = await listening.url;
      // New channels on separate connections: the kernel spreads them over both listeners (SO_REUSEPORT),
      // and a channel id starts with its owner's number.
      const owners = new Set<string>();
      for (let i = 0; i < 24 && owners.size < 2; i++) {
        const res = await fetch(`${url}/rgb96.jp2?cnew=http&type=jpp-stream&fsiz=96,96&len=100000`, { headers: { connection: 'close' } });
        assert.equal(res.status, 200);
        const body = new Uint8Array(await res.arrayBuffer());
        assert.ok(parseJppStream(body).some((e) => e.kind === 'message'), 'a JPP-stream body');
        owners.add((res.headers.get('jpip-cnew') ?? '').replace(/^cid=/, '').slice(0, 2));
      }
      assert.deepEqual([...owners].sort(), ['00', '01'], 'both front ends answered');
      const movie = await fetch(`${url}/movie.jpx?type=jpp-stream&fsiz=64,64&stream=0-69&len=400000`);
      assert.equal(movie.status, 200, await movie.clone().text());
      const events = parseJppStream(new Uint8Array(await movie.arrayBuffer()));
      const streams = new Set(events.flatMap((e) => (e.kind === 'message' ? [e.codestream] : [])));
      assert.equal(streams.size, 70, 'every frame of the movie was served');
      // The built client: its PNG encoder, progress bar and wasm decoder load from the bundle.
      const png = path.join(cache, 'w.png');
      const got = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'get', `${url}/rgb96.jp2`, '--fsiz', '96,64', '-o', png], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (status) => resolve({ status, stderr }));
      });
      assert.equal(got.status, 0, got.stderr);
      assert.deepEqual([...fs.readFileSync(png).subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
