/**
 * `jpipd get` as a user runs it (a child process) against a real server on 127.0.0.1: the PNG it
 * writes equals OpenJPEG's decode of the original at that resolution and window, pixel for pixel;
 * the .j2k it writes decodes like the original; a movie gives one file per frame; an unreachable
 * server, an HTTP error and bad arguments give their exit codes and a one-line message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { frameFile, GET_EXIT } from '../../src/cli/get-command.js';
import { jp2cBoxes } from '../helpers/boxes.js';
import { assertSamePixels, cropPixels, decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const ENTRY = path.resolve(import.meta.dirname, '../../src/cli/entry.ts');

/** Runs the CLI in a child process (async, so the in-process server keeps answering). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A PNG file's samples (gray or RGB, 8-bit) as a DecodedImage. */
function readPng(file: string): DecodedImage {
  const png = PNG.sync.read(fs.readFileSync(file), { skipRescale: true });
  // pngjs gives RGBA; keep the channels the original had.
  const gray = png.colorType === 0;
  const nc = gray ? 1 : 3;
  const pixels = new Uint8Array(png.width * png.height * nc);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < nc; c++) pixels[i * nc + c] = png.data[i * 4 + c];
  return { width: png.width, height: png.height, components: nc, bitsPerSample: 8, signed: false, pixels };
}

let srv: TestServer;
let dir: string;
before(async () => {
  srv = await startTestServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-get-'));
});
after(async () => {
  await srv.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('jpipd get', () => {
  it('writes the window as a PNG equal to the decode of the original, and the codestream as .j2k', { timeout: 60_000 }, async () => {
    const file = 'gray1000-rpcl-p64-l4.j2k';
    const original = new Uint8Array(fs.readFileSync(path.join(FIXTURES, file)));
    const png = path.join(dir, 'win.png');
    const r = await cli(['get', `${srv.base}/${file}`, '--fsiz', '500,350', '--roff', '100,80', '--rsiz', '200,150', '-o', png]);
    assert.equal(r.status, GET_EXIT.ok, r.stderr);
    assert.match(r.stdout, /win\.png: frame 0, \d+ bytes received/);
    const half = await decodeJ2k(original, 1);
    assertSamePixels(readPng(png), cropPixels(half, 100, 80, 200, 150), 'window');

    const j2k = path.join(dir, 'whole.j2k');
    const w = await cli(['get', `${srv.base}/${file}`, '--fsiz', '1000,700', '-o', j2k]);
    assert.equal(w.status, GET_EXIT.ok, w.stderr);
    assertSamePixels(await decodeJ2k(new Uint8Array(fs.readFileSync(j2k))), await decodeJ2k(original), 'whole codestream');
  });

  it('writes one PNG per frame of a movie, and an RGB image in colour', { timeout: 60_000 }, async () => {
    const movie = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'frames3-128.jpx')));
    const r = await cli(['get', `${srv.base}/frames3-128.jpx`, '--frames', '0-2', '--fsiz', '128', '-o', path.join(dir, 'frame-%03d.png')]);
    assert.equal(r.status, GET_EXIT.ok, r.stderr);
    const boxes = jp2cBoxes(movie);
    for (let f = 0; f < 3; f++) assertSamePixels(readPng(path.join(dir, frameFile('frame-%03d.png', f))), await decodeJ2k(boxes[f].payload), `frame ${f}`);

    const rgb = path.join(dir, 'rgb.png');
    const c = await cli(['get', `${srv.base}/rgb96.jp2`, '--fsiz', '96,64', '-o', rgb]);
    assert.equal(c.status, GET_EXIT.ok, c.stderr);
    const want = await decodeJ2k(jp2cBoxes(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'rgb96.jp2'))))[0].payload);
    assertSamePixels(readPng(rgb), want, 'rgb');
  });

  it('names what went wrong: unreachable server (3), HTTP error (4), bad arguments (2)', { timeout: 60_000 }, async () => {
    // A port nothing listens on: bind one, then close it.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const out = path.join(dir, 'x.png');
    const down = await cli(['get', `http://127.0.0.1:${port}/a.jp2`, '--fsiz', '64', '-o', out]);
    assert.equal(down.status, GET_EXIT.unreachable, down.stderr);
    assert.match(down.stderr, /^jpipd: cannot reach the server: ECONNREFUSED\n$/);

    const missing = await cli(['get', `${srv.base}/no-such-image.jp2`, '--fsiz', '64', '-o', out]);
    assert.equal(missing.status, GET_EXIT.http, missing.stderr);
    assert.match(missing.stderr, /^jpipd: opening a channel: the server answered 404: .+\n$/);
    assert.ok(!fs.existsSync(out), 'nothing written on failure');

    for (const args of [[], [`${srv.base}/rgb96.jp2`], [`${srv.base}/rgb96.jp2`, '--fsiz', '96,64'], [`${srv.base}/rgb96.jp2`, '--fsiz', 'big', '-o', out], ['ftp://x/a.jp2', '--fsiz', '9', '-o', out], [`${srv.base}/rgb96.jp2`, '--fsiz', '9', '--frames', '0-3', '-o', out], [`${srv.base}/rgb96.jp2`, '--fsiz', '9', '--bogus', '-o', out]]) {
      const r = await cli(['get', ...args]);
      assert.equal(r.status, GET_EXIT.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^jpipd: .+\nusage:/);
    }
  });
});
