/**
 * The load scenarios, after the ESA JPIP server paper (Section IV):
 *   movie   the flash crowd scaled down: each client plays consecutive frames of a JPX movie at a
 *           1024×1024 view of 4096² frames (fsiz=1024,1024,closest, JHelioviewer's frame request), a
 *           session of `sessionFrames` frames, then closes and starts again at another frame;
 *   zoom    the paper's zoom sequence on the 4096² image, (x, y, w, h, discard levels):
 *           (0,0,512,512,3) → (512,512,512,512,2) → (1024,1024,512,512,1), one channel, then close;
 *   random  small random windows (256×256 at a random offset and 0–3 discard levels) on the 4096² image;
 *   images  one 1024² view (the whole 4096² image at 2 discard levels) of one of five different 4096²
 *           images per session: a new channel for every view, many clients on many images;
 *   linked  the movie scenario on a hyperlinked JPX of five frames, each frame its own JP2 file
 *           (Helioviewer's movie format);
 *   large   full-resolution 4096² frames of the movie (about 1.7 MB a response at len 2 MiB).
 * Every window is requested with a `len` budget and repeated until EOR 1 or 2, as JHelioviewer does, and
 * always names its codestream (`stream=0` for a JP2): classic esajpip's child process crashes (null
 * dereference in DataBinServer::GenerateChunk) on a window request without `stream` or `context`.
 */

/** The scenarios. */
export const SCENARIOS = ['movie', 'zoom', 'random', 'images', 'linked', 'large'] as const;
/** A scenario's name. */
export type ScenarioName = (typeof SCENARIOS)[number];

/** The five images of the `images` scenario (made by make-images.ts). */
export const IMAGES = ['img0.jp2', 'img1.jp2', 'img2.jp2', 'img3.jp2', 'img4.jp2'];

/** One view window: request fields and a label for per-window accounting. */
export interface WindowSpec {
  label: string;
  fields: Record<string, string | number>;
}

/** What one simulated session does. */
export interface SessionPlan {
  target: string;
  windows: WindowSpec[];
}

/** Scenario parameters (all have defaults). */
export interface ScenarioOptions {
  name: ScenarioName;
  /** Movie file (movie) or 4096² image (zoom, random), relative to the server's image folder. */
  target?: string;
  /** movie: codestreams in the file; frames of one session; codestreams per request (context=jpxl<a-b>). */
  frames?: number;
  sessionFrames?: number;
  framesPerRequest?: number;
  /** random: windows per session and window side. */
  windowsPerSession?: number;
  side?: number;
  /** Full image size (4096). */
  imageSize?: number;
}

/** mulberry32 (shared with the tests), so both servers see the same "random" sequences for the same seed. */
export { rng as prng } from '../../test/helpers/prng.js';

/** The paper's zoom WOIs: (x, y, w, h, discard levels) of a 4096² image. */
export const ZOOM_WOIS: ReadonlyArray<readonly [number, number, number, number, number]> = [
  [0, 0, 512, 512, 3],
  [512, 512, 512, 512, 2],
  [1024, 1024, 512, 512, 1],
];

/** Builds the session plan of one client's n-th session. */
export function planSession(o: ScenarioOptions, rand: () => number): SessionPlan {
  const size = o.imageSize ?? 4096;
  if (o.name === 'zoom') {
    return {
      target: o.target ?? 'gray4096.jp2',
      windows: ZOOM_WOIS.map(([x, y, w, h, d]) => ({
        label: `(${x},${y},${w},${h},${d})`,
        fields: { stream: 0, fsiz: `${size >> d},${size >> d},closest`, roff: `${x},${y}`, rsiz: `${w},${h}` },
      })),
    };
  }
  if (o.name === 'random') {
    const side = o.side ?? 256;
    const windows: WindowSpec[] = [];
    for (let i = 0; i < (o.windowsPerSession ?? 16); i++) {
      const d = Math.floor(rand() * 4);
      const f = size >> d;
      const x = Math.floor(rand() * (f - side + 1));
      const y = Math.floor(rand() * (f - side + 1));
      windows.push({ label: `d${d}`, fields: { stream: 0, fsiz: `${f},${f},closest`, roff: `${x},${y}`, rsiz: `${side},${side}` } });
    }
    return { target: o.target ?? 'gray4096.jp2', windows };
  }
  if (o.name === 'images') {
    const view = size >> 2;
    const target = o.target ?? IMAGES[Math.floor(rand() * IMAGES.length)];
    return { target, windows: [{ label: 'view', fields: { stream: 0, fsiz: `${view},${view},closest`, rsiz: `${view},${view}`, roff: '0,0' } }] };
  }
  const frames = o.frames ?? (o.name === 'linked' ? 5 : 60);
  const per = Math.max(1, o.framesPerRequest ?? 1);
  const count = o.sessionFrames ?? (o.name === 'large' || o.name === 'linked' ? 5 : 30);
  const start = Math.floor(rand() * frames);
  const view = o.name === 'large' ? size : size >> 2;
  const windows: WindowSpec[] = [];
  for (let i = 0; i < count; i += per) {
    const a = (start + i) % frames;
    const b = Math.min(a + per - 1, frames - 1);
    const which: Record<string, string | number> = per === 1 ? { stream: a } : { context: `jpxl<${a}-${b}>` };
    windows.push({ label: 'frame', fields: { ...which, fsiz: `${view},${view},closest`, rsiz: `${view},${view}`, roff: '0,0' } });
  }
  return { target: o.target ?? (o.name === 'linked' ? 'linked5.jpx' : 'movie.jpx'), windows };
}
