/**
 * The viewer's files and the image listing over real HTTP: the page, the bundle and the wasm decoder
 * are served; images.json lists the images under the root as relative paths (never a server path),
 * and answers 404 when the operator turned the listing off (--no-listing).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { listImages } from '../../src/io/image-files.js';
import { FIXTURES, startTestServer } from '../helpers/server.js';

describe('viewer route', () => {
  it('serves the page, the decoder and a listing of relative image paths', async () => {
    const srv = await startTestServer();
    try {
      const page = await fetch(`${srv.base}/viewer`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<canvas id="view"/);
      const wasm = await fetch(`${srv.base}/viewer/openjpegwasm_decode.wasm`);
      assert.equal(wasm.headers.get('content-type'), 'application/wasm');
      assert.deepEqual([...new Uint8Array(await wasm.arrayBuffer()).subarray(0, 4)], [0, 0x61, 0x73, 0x6d], 'a wasm module');
      const list = (await (await fetch(`${srv.base}/viewer/images.json`)).json()) as { images: string[] };
      assert.deepEqual(list.images, listImages(fs.realpathSync(FIXTURES)));
      assert.ok(list.images.includes('gray1000-rpcl-p64-l4.j2k') && list.images.includes('frames3-128.jpx'));
      assert.ok(list.images.every((p) => !path.isAbsolute(p) && !p.includes('..') && !p.includes(FIXTURES)), 'relative paths only');
      for (const u of ['/viewer/nope.js', '/viewer/%2e%2e/package.json']) assert.equal((await fetch(`${srv.base}${u}`)).status, 404, u);
    } finally {
      await srv.stop();
    }
  });

  it('answers 404 for the listing when it is turned off, and still serves the viewer', async () => {
    const srv = await startTestServer({ listing: false });
    try {
      const r = await fetch(`${srv.base}/viewer/images.json`);
      assert.equal(r.status, 404);
      assert.match(await r.text(), /listing is turned off/);
      assert.equal((await fetch(`${srv.base}/viewer`)).status, 200);
    } finally {
      await srv.stop();
    }
  });
});
