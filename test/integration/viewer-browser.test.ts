/**
 * The browser viewer in a real browser: Debian's Chromium, driven headless by playwright-core, opens
 * /viewer on a real jpipd (127.0.0.1); the canvas must equal OpenJPEG's decode of the original at the
 * view's resolution and window, pixel for pixel, once the view is complete — first the whole image
 * fitted to the canvas, then after a wheel zoom about a point, then after a drag. Screenshots go to
 * $JPIPD_ARTIFACTS (default: the OS temp folder). Without a browser the test says so and is skipped.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ViewerState } from '../../src/viewer/state.js';
import { jp2cBoxes } from '../helpers/boxes.js';
import { listBoxes } from '../../src/j2k/box-reader.js';
import { BufferSource } from '../../src/bytes/source.js';
import { assertSamePixels, cropPixels, decodeJ2k, type DecodedImage } from '../helpers/openjpeg.js';
import { FIXTURES, startTestServer, type TestServer } from '../helpers/server.js';

const BROWSER = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const BUNDLE = path.resolve(import.meta.dirname, '../../dist/viewer/viewer.js');
const ARTIFACTS = process.env.JPIPD_ARTIFACTS ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-viewer-shots-'));

/** The viewer's state as read back from the page (JSON: its functions are gone). */
type View = Omit<ViewerState, 'view' | 'frameTo'>;

/** Waits until the viewer says its view is complete; returns that view. */
async function settled(page: Page): Promise<View> {
  await page.waitForFunction(() => {
    const s = (globalThis as unknown as { jpipd?: View }).jpipd;
    return s !== undefined && (s.complete || s.error !== null);
  }, undefined, { timeout: 30_000 });
  const v = await page.evaluate(() => JSON.parse(JSON.stringify((globalThis as unknown as { jpipd: View }).jpipd)) as View);
  assert.equal(v.error, null);
  return v;
}

/** The canvas's top-left rsiz pixels as gray samples (the viewer paints gray as r = g = b). */
async function canvasGray(page: Page, w: number, h: number): Promise<DecodedImage> {
  // Runs in the page (browser globals, so typed loosely here).
  type Canvas = { getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
  const rgba = await page.evaluate(
    ([w, h]) => Array.from((globalThis as unknown as { document: { getElementById(id: string): Canvas } }).document.getElementById('view').getContext('2d').getImageData(0, 0, w, h).data),
    [w, h] as [number, number],
  );
  const pixels = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) pixels[i] = rgba[i * 4];
  return { width: w, height: h, components: 1, bitsPerSample: 8, signed: false, pixels };
}

async function assertView(page: Page, original: Uint8Array, v: View, what: string): Promise<void> {
  // A JP2 frame: its codestream.
  const cs = original[0] === 0xff && original[1] === 0x4f ? original : jp2cBoxes(original)[0].payload;
  const full = await decodeJ2k(cs, v.level);
  const want = cropPixels(full, v.roff[0], v.roff[1], v.rsiz[0], v.rsiz[1]);
  const got = await canvasGray(page, v.rsiz[0], v.rsiz[1]);
  await page.screenshot({ path: path.join(ARTIFACTS, `${what.replace(/\W+/g, '-')}.png`) });
  assertSamePixels(got, want, `${what} (view ${JSON.stringify(v)})`);
}

describe('browser viewer (Chromium, headless)', { skip: BROWSER ? false : 'no Chromium at /usr/bin/chromium: apt-get install chromium' }, () => {
  let srv: TestServer;
  let browser: Browser;
  before(async () => {
    assert.ok(fs.existsSync(BUNDLE), 'dist/viewer/viewer.js is missing: run npm install (or npm run build)');
    srv = await startTestServer();
    browser = await chromium.launch({ executablePath: BROWSER, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('shows the image, then a zoomed and a dragged view, each exactly as OpenJPEG decodes it', { timeout: 120_000 }, async () => {
    const file = 'gray1000-rpcl-p64-l4.j2k';
    const original = new Uint8Array(fs.readFileSync(path.join(FIXTURES, file)));
    const page = await browser.newPage();
    const t0 = performance.now();
    await page.goto(`${srv.base}/viewer?image=${file}`);
    const first = await settled(page);
    const firstMs = performance.now() - t0;
    // 1000×700 in an 800×600 canvas: one level down (500×350), all of it.
    assert.deepEqual([first.level, first.fsiz, first.roff, first.rsiz], [1, [500, 350], [0, 0], [500, 350]]);
    assert.equal(first.transport, 'websocket', 'the WebSocket transport by default');
    await assertView(page, original, first, 'whole image');
    const listed = await page.locator('#images option').allTextContents();
    assert.ok(listed.includes(file), 'the picker lists the images under the root');

    // Wheel up over (200, 100) of the canvas: one level finer, the same image point under the pointer.
    const box = (await page.locator('#view').boundingBox())!;
    await page.mouse.move(box.x + 200, box.y + 100);
    await page.mouse.wheel(0, -100);
    await page.waitForFunction(() => (globalThis as unknown as { jpipd: View }).jpipd.level === 0);
    const zoomed = await settled(page);
    assert.deepEqual([zoomed.level, zoomed.fsiz, zoomed.roff, zoomed.rsiz], [0, [1000, 700], [200, 100], [800, 600]]);
    await assertView(page, original, zoomed, 'zoomed');

    // Drag 150 px right and 50 px down: the view moves left and up by as much.
    await page.mouse.move(box.x + 400, box.y + 300);
    await page.mouse.down();
    await page.mouse.move(box.x + 550, box.y + 350, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => (globalThis as unknown as { jpipd: View }).jpipd.roff[0] !== 200);
    const dragged = await settled(page);
    assert.deepEqual([dragged.level, dragged.roff, dragged.rsiz], [0, [50, 50], [800, 600]]);
    await assertView(page, original, dragged, 'dragged');
    process.stdout.write(`# viewer: first complete view in ${firstMs.toFixed(0)} ms, ${first.bytes} bytes\n`);
    await page.close();
  });

  it('plays a linked movie: each of ten frames exact, with its XML in the metadata panel', { timeout: 120_000 }, async () => {
    // Ten frames (the three Helioviewer-like fixtures in turn) in a hyperlinked JPX made by `jpipd movie`.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-viewer-movie-'));
    const files: string[] = [];
    fs.mkdirSync(path.join(root, 'frames'));
    for (let i = 0; i < 10; i++) {
      const f = path.join(root, 'frames', `f${String(i).padStart(2, '0')}.jp2`);
      fs.copyFileSync(path.join(FIXTURES, 'movie-frames', `aia_000${(i % 3) + 1}.jp2`), f);
      files.push(f);
    }
    const made = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../../src/cli/entry.ts'), 'movie', '--out', path.join(root, 'movie.jpx'), path.join(root, 'frames')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(made.status, 0, made.stderr);
    const movieSrv = await startTestServer({ root });
    const page = await browser.newPage();
    try {
      await page.goto(`${movieSrv.base}/viewer?image=movie.jpx`);
      const first = await settled(page);
      assert.equal(first.frames, 10, 'ten frames');
      for (let f = 0; f < 10; f++) {
        await page.evaluate((n) => (globalThis as unknown as { jpipd: { frameTo(n: number): Promise<void> } }).jpipd.frameTo(n), f);
        const v = await settled(page);
        assert.equal(v.frame, f);
        const bytes = new Uint8Array(fs.readFileSync(files[f]));
        await assertView(page, bytes, v, `movie frame ${f}`);
        const xml = listBoxes(new BufferSource(bytes), 0, bytes.length).filter((b) => b.type === 'xml ');
        assert.ok(xml.length > 0, 'the fixture frames carry XML');
        // Every top-level XML box of the frame, in file order (`jpipd movie` keeps them all).
        const text = xml.map((b) => new TextDecoder().decode(bytes.subarray(b.offset + b.headerLength, b.offset + b.length))).join('\n');
        assert.equal(v.meta, text, `frame ${f}: the panel shows the frame's XML`);
        assert.equal(await page.locator('#meta').textContent(), text);
      }
      // Play at up to 60 frames/s: frames advance on their own (the rate reached is logged); pause stops them.
      await page.locator('#fps').fill('60');
      await page.locator('#play').click();
      await page.waitForFunction(() => {
        const s = (globalThis as unknown as { jpipd: View }).jpipd;
        return s.playing && s.frame !== 9 && s.frame >= 2;
      }, undefined, { timeout: 30_000 });
      await new Promise((r) => setTimeout(r, 2000));
      const rate = await page.evaluate(() => (globalThis as unknown as { jpipd: { fpsShown: number } }).jpipd.fpsShown);
      assert.ok(rate > 0, 'frames were shown');
      process.stdout.write(`# viewer: movie of 128² frames played at ${rate.toFixed(1)} frames/s (60 asked)\n`);
      await page.locator('#play').click();
      await page.waitForFunction(() => !(globalThis as unknown as { jpipd: View }).jpipd.playing);
      await page.screenshot({ path: path.join(ARTIFACTS, 'movie.png') });
    } finally {
      await page.close();
      await movieSrv.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('shows an HTJ2K image exactly, and a 4096² image (time to first paint and to a complete view)', { timeout: 120_000 }, async () => {
    const page = await browser.newPage();
    try {
      const ht = 'gray257-htj2k-rpcl-p32.j2k';
      await page.goto(`${srv.base}/viewer?image=${ht}`);
      const v = await settled(page);
      assert.deepEqual([v.level, v.fsiz], [0, [257, 129]]);
      await assertView(page, new Uint8Array(fs.readFileSync(path.join(FIXTURES, ht))), v, 'htj2k');

      // The paper's image: 4096², fitted to the canvas at three levels down (512²). Measured, not asserted.
      const big = 'gray4096-rpcl-p128-l8.jp2';
      const t0 = performance.now();
      await page.goto(`${srv.base}/viewer?image=${big}`);
      await page.waitForFunction(() => ((globalThis as unknown as { jpipd?: View }).jpipd?.responses ?? 0) >= 1, undefined, { timeout: 30_000 });
      const firstPaint = performance.now() - t0;
      const whole = await settled(page);
      const complete = performance.now() - t0;
      assert.deepEqual([whole.level, whole.fsiz], [3, [512, 512]]);
      await assertView(page, new Uint8Array(fs.readFileSync(path.join(FIXTURES, big))), whole, '4096 fitted');
      process.stdout.write(`# viewer 4096²: first paint ${firstPaint.toFixed(0)} ms, complete 512² view ${complete.toFixed(0)} ms, ${whole.bytes} bytes\n`);
      // Zoom into a region: two wheel steps about (300, 200): 1024² at (224, 200) (clipped to the frame),
      // then 2048² at (748, 600).
      const box = (await page.locator('#view').boundingBox())!;
      await page.mouse.move(box.x + 300, box.y + 200);
      await page.mouse.wheel(0, -100);
      await page.waitForFunction(() => (globalThis as unknown as { jpipd: View }).jpipd.level === 2);
      await settled(page);
      const t1 = performance.now();
      await page.mouse.wheel(0, -100);
      await page.waitForFunction(() => (globalThis as unknown as { jpipd: View }).jpipd.level === 1);
      const zoomed = await settled(page);
      const zoomMs = performance.now() - t1;
      assert.deepEqual([zoomed.fsiz, zoomed.roff, zoomed.rsiz], [[2048, 2048], [748, 600], [800, 600]]);
      await assertView(page, new Uint8Array(fs.readFileSync(path.join(FIXTURES, big))), zoomed, '4096 zoomed region');
      process.stdout.write(`# viewer 4096²: zoom to an 800×600 region of the 2048² level complete in ${zoomMs.toFixed(0)} ms\n`);

      // A 1024² canvas on a fresh page: the 4096² image fitted at two levels down is a 1024² window.
      const fresh = await browser.newPage();
      try {
        const t2 = performance.now();
        await fresh.goto(`${srv.base}/viewer?image=${big}&size=1024x1024`);
        await fresh.waitForFunction(() => ((globalThis as unknown as { jpipd?: View }).jpipd?.responses ?? 0) >= 1, undefined, { timeout: 30_000 });
        const paint1024 = performance.now() - t2;
        const w1024 = await settled(fresh);
        const done1024 = performance.now() - t2;
        assert.deepEqual([w1024.level, w1024.fsiz, w1024.rsiz], [2, [1024, 1024], [1024, 1024]]);
        await assertView(fresh, new Uint8Array(fs.readFileSync(path.join(FIXTURES, big))), w1024, '4096 at 1024');
        process.stdout.write(`# viewer 4096²: 1024² window, first paint ${paint1024.toFixed(0)} ms, complete ${done1024.toFixed(0)} ms, ${w1024.bytes} bytes (page load included)\n`);
      } finally {
        await fresh.close();
      }
    } finally {
      await page.close();
    }
  });

  it('zooms with a two-finger pinch on a touch screen, about the fingers', { timeout: 60_000 }, async () => {
    const file = 'gray1000-rpcl-p64-l4.j2k';
    const context = await browser.newContext({ hasTouch: true });
    const page = await context.newPage();
    try {
      await page.goto(`${srv.base}/viewer?image=${file}`);
      const before = await settled(page);
      assert.equal(before.level, 1);
      const box = (await page.locator('#view').boundingBox())!;
      // Raw touch events through the DevTools protocol (Chromium makes the pointer events the viewer reads).
      const cdp = await context.newCDPSession(page);
      const at = (dx: number) => [
        { x: box.x + 200 - dx, y: box.y + 100, id: 0 },
        { x: box.x + 200 + dx, y: box.y + 100, id: 1 },
      ];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(40) });
      for (const dx of [60, 80, 100]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(dx) });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await page.waitForFunction(() => (globalThis as unknown as { jpipd: View }).jpipd.level === 0, undefined, { timeout: 10_000 });
      const after = await settled(page);
      assert.deepEqual([after.level, after.roff, after.rsiz], [0, [200, 100], [800, 600]], 'one level finer about the fingers');
      await assertView(page, new Uint8Array(fs.readFileSync(path.join(FIXTURES, file))), after, 'pinched');
    } finally {
      await context.close();
    }
  });

  it('falls back to HTTP, with the same picture', { timeout: 60_000 }, async () => {
    const file = 'gray1000-rpcl-p64-l4.j2k';
    const original = new Uint8Array(fs.readFileSync(path.join(FIXTURES, file)));
    const page = await browser.newPage();
    await page.goto(`${srv.base}/viewer?image=${file}&transport=http`);
    const v = await settled(page);
    assert.equal(v.transport, 'http');
    await assertView(page, original, v, 'whole image over http');
    await page.close();
  });
});
