/**
 * The browser viewer served at /viewer (built into dist/viewer/viewer.js by `npm run build`). It
 * uses the project's client library: one JPIP channel per image (JpipSession over fetch), the
 * data-bins it receives reassembled into a codestream (client/reassemble.ts) and decoded with the
 * wasm OpenJPEG that /viewer/openjpegwasm_decode.js defines. Each view change (drag to pan, wheel or
 * pinch to zoom one resolution level about the pointer) asks for exactly the window and resolution on screen
 * (fsiz/roff/rsiz) on the same channel, so nothing is fetched twice; the picture is repainted after
 * every response, so quality rises as layers arrive.
 *
 * Movies (JPX with several codestreams): a frame slider, play/pause at a chosen frames per second,
 * the next frame fetched while the current one is shown, and each frame's XML (Helioviewer's FITS
 * header, in the frame's `asoc` box) in a side panel; metadata comes with the channel's first
 * request (`metareq=[*]`).
 *
 * Transport: jpipd's WebSocket transport (/jpip-ws) by default, plain HTTP when the socket cannot
 * open (or with ?transport=http).
 *
 * For tests and scripts, `window.jpipd` exposes the state: the image, the view (fsiz, roff, rsiz),
 * bytes received, the transport, and `complete` once the server said the view is done (EOR 1 or 2).
 */
import { reassembleCodestream } from '../client/reassemble.js';
import { JpipSession } from '../client/session.js';
import { cropWindow, decodeWith, type DecodedImage, type OpenJpegModule } from '../client/decode-core.js';
import { sizOf } from '../client/frame.js';
import { frameSize } from '../j2k/geometry.js';
import type { Siz } from '../j2k/types.js';
import { listBoxes, typeString } from '../j2k/box-reader.js';
import { be, BufferSource } from '../bytes/source.js';
import { openWsFetch } from './ws-fetch.js';
import type { ViewerState } from './state.js';

declare const OpenJPEGWASM: (o: object) => Promise<OpenJpegModule>;


const BUDGET = 256 * 1024;
const canvas = document.getElementById('view') as HTMLCanvasElement;
const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
const status = document.getElementById('status') as HTMLElement;
const picker = document.getElementById('images') as HTMLSelectElement;
const slider = document.getElementById('frame') as HTMLInputElement;
const playButton = document.getElementById('play') as HTMLButtonElement;
const fpsInput = document.getElementById('fps') as HTMLInputElement;
const metaPanel = document.getElementById('meta') as HTMLElement;
/** Metadata-bin holding each frame's asoc box (its XML), from metadata-bin 0. */
let frameMeta: Array<number | undefined> = [];
/** Frames requested ahead of the one shown (the promise settles when the frame's view is complete). */
const prefetched = new Map<number, Promise<void>>();

let decoder: Promise<OpenJpegModule> | null = null;
let session: JpipSession | null = null;
/** Bumped on every view change: an older fetch loop stops at its next round. */
let generation = 0;
/** SIZ of the image shown (from its main header). */
let siz: Siz | null = null;
let maxLevel = 0;

const state: ViewerState = {
  image: null,
  size: null,
  level: 0,
  fsiz: [0, 0],
  roff: [0, 0],
  rsiz: [0, 0],
  bytes: 0,
  responses: 0,
  complete: false,
  error: null,
  transport: 'http',
  frame: 0,
  frames: 1,
  meta: '',
  playing: false,
  fpsShown: 0,
  frameTo: (f) => showFrame(f),
  view: (level, x, y) => show(level, x, y),
};
(window as unknown as { jpipd: ViewerState }).jpipd = state;

function module(): Promise<OpenJpegModule> {
  decoder ??= OpenJPEGWASM({ print: () => {}, printErr: () => {} });
  return decoder;
}

/** Frame size at `level` discarded levels (15444-9 C.4.2 from SIZ). */
function frameAt(level: number): [number, number] {
  const f = frameSize(siz as Siz, level);
  return [f.width, f.height];
}

function say(text: string): void {
  status.textContent = text;
}

/** Paints the decoded view (gray or RGB, scaled to 8 bits) at the canvas origin. */
function paint(img: DecodedImage): void {
  const out = ctx.createImageData(Math.max(1, img.width), Math.max(1, img.height));
  const nc = img.components;
  const shift = Math.max(0, img.bitsPerSample - 8);
  const offset = img.signed ? 2 ** (img.bitsPerSample - 1) : 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const g = (v: number): number => (v + offset) / 2 ** shift;
    const r = g(img.pixels[i * nc]);
    out.data[i * 4] = r;
    out.data[i * 4 + 1] = nc >= 3 ? g(img.pixels[i * nc + 1]) : r;
    out.data[i * 4 + 2] = nc >= 3 ? g(img.pixels[i * nc + 2]) : r;
    out.data[i * 4 + 3] = 255;
  }
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.putImageData(out, 0, 0);
}

/** Decodes what the channel holds and paints the view. */
async function repaint(): Promise<void> {
  if (!session) return;
  const cs = reassembleCodestream(session.cache, state.frame);
  const img = decodeWith(await module(), cs, state.level);
  paint(cropWindow(img, state.fsiz[0], state.fsiz[1], state.roff[0], state.roff[1], state.rsiz[0], state.rsiz[1]));
}

/** Shows the view at `level` discarded levels with its top-left corner at (x, y) of that frame. */
async function show(level: number, x: number, y: number): Promise<void> {
  if (!session || !state.size) return;
  const my = ++generation;
  level = Math.max(0, Math.min(maxLevel, level));
  const [fw, fh] = frameAt(level);
  const w = Math.min(canvas.width, fw);
  const h = Math.min(canvas.height, fh);
  x = Math.max(0, Math.min(fw - w, Math.round(x)));
  y = Math.max(0, Math.min(fh - h, Math.round(y)));
  Object.assign(state, { level, fsiz: [fw, fh], roff: [x, y], rsiz: [w, h], complete: false });
  const fields = { type: 'jpp-stream', stream: state.frame, fsiz: `${fw},${fh}`, roff: `${x},${y}`, rsiz: `${w},${h}`, len: BUDGET };
  try {
    for (let round = 0; round < 10_000; round++) {
      const r = await session.send(fields);
      if (my !== generation) return;
      if (r.status !== 200) throw new Error(`the server answered ${r.status}: ${new TextDecoder().decode(r.body).split('\n')[0]}`);
      state.bytes += r.body.length;
      state.responses++;
      await repaint();
      if (my !== generation) return;
      say(`${state.image}${state.frames > 1 ? ` frame ${state.frame + 1}/${state.frames}` : ''}: ${fw}×${fh} (level ${level}), view ${w}×${h} at ${x},${y}; ${(state.bytes / 1024).toFixed(0)} KiB received over ${state.transport}${state.playing ? `, ${state.fpsShown.toFixed(1)} frames/s` : ''}${r.eor === 1 || r.eor === 2 ? ', complete' : ''}`);
      if (r.eor === 1 || r.eor === 2) {
        state.complete = true;
        return;
      }
    }
  } catch (e) {
    state.error = (e as Error).message;
    say(`error: ${state.error}`);
  }
}

/** Opens a channel on `image` and shows the whole image at the largest level that fits the canvas. */
async function open(image: string): Promise<void> {
  generation++;
  await session?.close().catch(() => {});
  Object.assign(state, { image, size: null, bytes: 0, responses: 0, complete: false, error: null });
  session = new JpipSession(location.origin, image, await transport());
  prefetched.clear();
  state.playing = false;
  const first = await session.open({ len: 1 << 20, fsiz: '1,1', stream: 0, metareq: '[*]' });
  if (first.status !== 200) {
    state.error = `the server answered ${first.status}: ${new TextDecoder().decode(first.body).split('\n')[0]}`;
    say(`error: ${state.error}`);
    return;
  }
  readFrames();
  state.frame = 0;
  showMeta();
  // Full size from SIZ (the main header bin comes first).
  siz = sizOf(session.cache.get({ cls: 6, codestream: 0, id: 0 }));
  state.size = frameAt(0);
  maxLevel = 0;
  while (maxLevel < 32 && (frameAt(maxLevel + 1)[0] >= 1 && (frameAt(maxLevel)[0] > canvas.width || frameAt(maxLevel)[1] > canvas.height))) maxLevel++;
  const fit = maxLevel;
  maxLevel = 32;
  while (maxLevel > 0 && frameAt(maxLevel)[0] < 2) maxLevel--;
  await show(fit, 0, 0);
}

let fetcher: Promise<typeof fetch> | null = null;
/** The WebSocket transport, or HTTP when it cannot open (or ?transport=http). */
function transport(): Promise<typeof fetch> {
  fetcher ??= (async () => {
    const http: typeof fetch = (input, init) => fetch(input, init);
    if (new URLSearchParams(location.search).get('transport') === 'http') return http;
    try {
      const ws = await openWsFetch(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/jpip-ws`);
      state.transport = 'websocket';
      return ws;
    } catch {
      return http;
    }
  })();
  return fetcher;
}

/** Frames and their metadata-bins from metadata-bin 0: one codestream placeholder per frame, each frame's asoc placeholder before it. */
function readFrames(): void {
  const bin0 = session?.cache.get({ cls: 8, codestream: 0, id: 0 }) ?? new Uint8Array(0);
  let frames = 0;
  let asoc: number | undefined;
  let xml: number | undefined;
  frameMeta = [];
  try {
    for (const b of listBoxes(new BufferSource(bin0), 0, bin0.length)) {
      if (b.type !== 'phld') continue;
      const p = b.offset;
      // Placeholder (15444-9 A.3.6.3): LBox, 'phld', Flags, OrigID, OrigBH (whose TBox names the box).
      const flags = be.u32(bin0, p + 8);
      const origId = be.u64(bin0, p + 12);
      const origType = typeString(bin0, p + 24);
      if (flags & 4) {
        frameMeta[frames++] = asoc ?? (frames === 0 ? xml : undefined);
        asoc = undefined;
      } else if (flags & 1 && origType === 'asoc') asoc = origId;
      else if (flags & 1 && origType === 'xml ') xml ??= origId;
    }
  } catch {
    // a metadata-bin 0 cut short: frames stay as counted
  }
  if (frames === 0) frameMeta = [xml];
  state.frames = Math.max(1, frames);
  slider.max = String(state.frames - 1);
  slider.value = '0';
  slider.disabled = playButton.disabled = state.frames < 2;
}

/** The XML text of the boxes in a metadata-bin (an asoc: its xml boxes; an xml box's own contents). */
function xmlOf(bin: number | undefined): string {
  if (bin === undefined || !session) return '';
  const bytes = session.cache.get({ cls: 8, codestream: 0, id: bin });
  const text = new TextDecoder();
  try {
    const boxes = listBoxes(new BufferSource(bytes), 0, bytes.length);
    const xml = boxes.filter((b) => b.type === 'xml ');
    if (boxes.length > 0 && (xml.length > 0 || boxes[0].type === 'nlst')) return xml.map((b) => text.decode(bytes.subarray(b.offset + b.headerLength, b.offset + b.length))).join('\n');
  } catch {
    // not boxes: an xml box's contents
  }
  return text.decode(bytes);
}

function showMeta(): void {
  state.meta = xmlOf(frameMeta[state.frame]);
  metaPanel.textContent = state.meta;
}

/** Shows frame f (0-based) in the current view. */
async function showFrame(f: number): Promise<void> {
  if (!session || f < 0 || f >= state.frames) return;
  await prefetched.get(f);
  prefetched.delete(f);
  state.frame = f;
  slider.value = String(f);
  showMeta();
  await show(state.level, state.roff[0], state.roff[1]);
}

/** Fetches frame f's view into the cache without painting it (playback reads ahead one frame). */
function prefetch(f: number): void {
  if (!session || prefetched.has(f) || f >= state.frames) return;
  const s = session;
  const [fw, fh] = state.fsiz;
  const fields = { type: 'jpp-stream', stream: f, fsiz: `${fw},${fh}`, roff: state.roff.join(','), rsiz: state.rsiz.join(','), len: BUDGET };
  prefetched.set(f, s.fetchWindow(fields, 10_000, (r) => (state.bytes += r.body.length)).then(() => undefined, () => undefined));
}

async function play(): Promise<void> {
  state.playing = true;
  playButton.textContent = 'Pause';
  const shown: number[] = [];
  while (state.playing) {
    const t = performance.now();
    shown.push(t);
    if (shown.length > 11) shown.shift();
    state.fpsShown = shown.length > 1 ? ((shown.length - 1) * 1000) / (t - shown[0]) : 0;
    const next = (state.frame + 1) % state.frames;
    await showFrame(next);
    prefetch((next + 1) % state.frames);
    const fps = Math.max(0.1, Math.min(60, Number(fpsInput.value) || 10));
    const wait = 1000 / fps - (performance.now() - t);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  playButton.textContent = 'Play';
}

playButton.addEventListener('click', () => {
  if (state.playing) state.playing = false;
  else void play();
});
slider.addEventListener('input', () => {
  state.playing = false;
  void showFrame(Number(slider.value));
});

// Pan by dragging (mouse, pen and touch through pointer events); zoom with the wheel or a two-finger
// pinch (one level per gesture), about the pointer or the fingers' midpoint.
const pointers = new Map<number, { x: number; y: number }>();
let drag: { x: number; y: number; rx: number; ry: number } | null = null;
let pinch: { d0: number; mx: number; my: number } | null = null;

/** Zooms one level in (dir < 0) or out about canvas point (px, py). */
function zoomAbout(px: number, py: number, dir: number): void {
  const level = state.level + (dir < 0 ? -1 : 1);
  if (level < 0 || level > maxLevel || level === state.level) return;
  const k = 2 ** (state.level - level);
  void show(level, (state.roff[0] + px) * k - px, (state.roff[1] + py) * k - py);
}

const spread = (): number => {
  const [a, b] = [...pointers.values()];
  return Math.hypot(a.x - b.x, a.y - b.y);
};

canvas.addEventListener('pointerdown', (e) => {
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  canvas.setPointerCapture(e.pointerId);
  if (pointers.size === 2) {
    // A second finger: a pinch, not a drag.
    drag = null;
    const rect = canvas.getBoundingClientRect();
    const [a, b] = [...pointers.values()];
    pinch = { d0: Math.max(1, spread()), mx: (a.x + b.x) / 2 - rect.left, my: (a.y + b.y) / 2 - rect.top };
  } else if (pointers.size === 1) drag = { x: e.clientX, y: e.clientY, rx: state.roff[0], ry: state.roff[1] };
});
canvas.addEventListener('pointermove', (e) => {
  if (pointers.has(e.pointerId)) pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
});
const release = (e: PointerEvent): void => {
  if (pinch && pointers.size === 2) {
    const ratio = spread() / pinch.d0;
    if (ratio >= 1.4) zoomAbout(pinch.mx, pinch.my, -1);
    else if (ratio <= 0.7) zoomAbout(pinch.mx, pinch.my, 1);
  }
  pointers.delete(e.pointerId);
  if (pointers.size === 0) pinch = null;
  if (!drag) return;
  const d = drag;
  drag = null;
  void show(state.level, d.rx - (e.clientX - d.x), d.ry - (e.clientY - d.y));
};
canvas.addEventListener('pointerup', release);
canvas.addEventListener('pointercancel', (e) => {
  pointers.delete(e.pointerId);
  if (pointers.size === 0) pinch = null;
  drag = null;
});
canvas.addEventListener(
  'wheel',
  (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoomAbout(e.clientX - rect.left, e.clientY - rect.top, e.deltaY);
  },
  { passive: false },
);

picker.addEventListener('change', () => void open(picker.value));

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('image');
  // ?size=WxH sets the canvas (64–4096 each way; default 800×600).
  const size = /^(\d{2,4})x(\d{2,4})$/.exec(params.get('size') ?? '');
  if (size) {
    canvas.width = Math.max(64, Math.min(4096, Number(size[1])));
    canvas.height = Math.max(64, Math.min(4096, Number(size[2])));
  }
  try {
    const r = await fetch('/viewer/images.json');
    if (r.ok) {
      const list = (await r.json()) as { images: string[] };
      for (const name of list.images) picker.add(new Option(name, name));
    } else picker.add(new Option('(listing turned off)', ''));
  } catch {
    picker.add(new Option('(no listing)', ''));
  }
  const first = wanted ?? picker.options[0]?.value;
  if (first) {
    picker.value = first;
    await open(first);
  }
}
void start();
