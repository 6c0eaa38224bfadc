/**
 * The browser viewer served at /viewer (built into dist/viewer/viewer.js by `npm run build`). It
 * uses the project's client library: one JPIP channel per image (JpipSession over fetch), the
 * data-bins it receives reassembled into a codestream (client/reassemble.ts) and decoded with the
 * wasm OpenJPEG that /viewer/openjpegwasm_decode.js defines. Each view change (drag to pan, wheel to
 * zoom one resolution level about the pointer) asks for exactly the window and resolution on screen
 * (fsiz/roff/rsiz) on the same channel, so nothing is fetched twice; the picture is repainted after
 * every response, so quality rises as layers arrive.
 *
 * Transport: jpipd's WebSocket transport (/jpip-ws) by default, plain HTTP when the socket cannot
 * open (or with ?transport=http).
 *
 * For tests and scripts, `window.jpipd` exposes the state: the image, the view (fsiz, roff, rsiz),
 * bytes received, the transport, and `complete` once the server said the view is done (EOR 1 or 2).
 */
import { reassembleCodestream } from '../client/reassemble.js';
import { JpipSession } from '../client/session.js';
import { cropPixels, decodeWith, type DecodedImage, type OpenJpegModule } from '../client/decode-core.js';
import { parseSiz } from '../j2k/segments.js';
import { openWsFetch } from './ws-fetch.js';

declare const OpenJPEGWASM: (o: object) => Promise<OpenJpegModule>;

/** What the page shows, for tests. */
interface ViewerState {
  image: string | null;
  /** Full image size (resolution 0 discarded levels). */
  size: [number, number] | null;
  /** Discarded resolution levels of the view. */
  level: number;
  fsiz: [number, number];
  roff: [number, number];
  rsiz: [number, number];
  bytes: number;
  responses: number;
  complete: boolean;
  error: string | null;
  transport: 'websocket' | 'http';
  /** Moves the view (tests); resolves when the new view is complete. */
  view(level: number, x: number, y: number): Promise<void>;
}

const BUDGET = 256 * 1024;
const canvas = document.getElementById('view') as HTMLCanvasElement;
const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
const status = document.getElementById('status') as HTMLElement;
const picker = document.getElementById('images') as HTMLSelectElement;

let decoder: Promise<OpenJpegModule> | null = null;
let session: JpipSession | null = null;
/** Bumped on every view change: an older fetch loop stops at its next round. */
let generation = 0;
let imageOffset: [number, number] = [0, 0];
let imageEnd: [number, number] = [0, 0];
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
  view: (level, x, y) => show(level, x, y),
};
(window as unknown as { jpipd: ViewerState }).jpipd = state;

function module(): Promise<OpenJpegModule> {
  decoder ??= OpenJPEGWASM({ print: () => {}, printErr: () => {} });
  return decoder;
}

/** Frame size at `level` discarded levels (15444-9 C.4.2 from SIZ). */
function frameAt(level: number): [number, number] {
  const d = 2 ** level;
  return [Math.ceil(imageEnd[0] / d) - Math.ceil(imageOffset[0] / d), Math.ceil(imageEnd[1] / d) - Math.ceil(imageOffset[1] / d)];
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
  const cs = reassembleCodestream(session.cache, 0);
  const img = decodeWith(await module(), cs, state.level);
  // The decoder's output may start at the canvas origin rather than the image offset.
  const dx = Math.max(0, img.width - state.fsiz[0]);
  const dy = Math.max(0, img.height - state.fsiz[1]);
  paint(cropPixels(img, state.roff[0] + dx, state.roff[1] + dy, state.rsiz[0], state.rsiz[1]));
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
  const fields = { type: 'jpp-stream', stream: 0, fsiz: `${fw},${fh}`, roff: `${x},${y}`, rsiz: `${w},${h}`, len: BUDGET };
  try {
    for (let round = 0; round < 10_000; round++) {
      const r = await session.send(fields);
      if (my !== generation) return;
      if (r.status !== 200) throw new Error(`the server answered ${r.status}: ${new TextDecoder().decode(r.body).split('\n')[0]}`);
      state.bytes += r.body.length;
      state.responses++;
      await repaint();
      if (my !== generation) return;
      say(`${state.image}: ${fw}×${fh} (level ${level}), view ${w}×${h} at ${x},${y}; ${(state.bytes / 1024).toFixed(0)} KiB received over ${state.transport}${r.eor === 1 || r.eor === 2 ? ', complete' : ''}`);
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
  const first = await session.open({ len: 2000, fsiz: '1,1', stream: 0 });
  if (first.status !== 200) {
    state.error = `the server answered ${first.status}: ${new TextDecoder().decode(first.body).split('\n')[0]}`;
    say(`error: ${state.error}`);
    return;
  }
  // Full size from SIZ (the main header bin comes first).
  const main = session.cache.get({ cls: 6, codestream: 0, id: 0 });
  const siz = parseSiz(main.subarray(4, 4 + main[4] * 256 + main[5]));
  imageOffset = [siz.XOsiz, siz.YOsiz];
  imageEnd = [siz.Xsiz, siz.Ysiz];
  state.size = [siz.Xsiz - siz.XOsiz, siz.Ysiz - siz.YOsiz];
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

// Pan by dragging (mouse, pen and touch through pointer events); zoom with the wheel about the pointer.
let drag: { x: number; y: number; rx: number; ry: number } | null = null;
canvas.addEventListener('pointerdown', (e) => {
  drag = { x: e.clientX, y: e.clientY, rx: state.roff[0], ry: state.roff[1] };
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener('pointerup', (e) => {
  if (!drag) return;
  const d = drag;
  drag = null;
  void show(state.level, d.rx - (e.clientX - d.x), d.ry - (e.clientY - d.y));
});
canvas.addEventListener(
  'wheel',
  (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    const level = state.level + (e.deltaY < 0 ? -1 : 1);
    if (level < 0 || level > maxLevel || level === state.level) return;
    const k = 2 ** (state.level - level);
    void show(level, (state.roff[0] + px) * k - px, (state.roff[1] + py) * k - py);
  },
  { passive: false },
);

picker.addEventListener('change', () => void open(picker.value));

async function start(): Promise<void> {
  const wanted = new URLSearchParams(location.search).get('image');
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
