/**
 * `jpipd get URL`: a command-line JPIP client. Opens a channel on the URL's image, asks for one
 * window (`--fsiz`, `--roff`, `--rsiz`, `--stream`, `--layers`) until the server says it is complete
 * (EOR 1 or 2, repeating the request with `--len` as viewers do), then writes the decoded region as a
 * PNG or the reassembled codestream (`.j2k`). With `--frames A-B` it does the same for each frame of
 * a movie on the one channel, writing one file per frame (`-o frame-%03d.png`). A progress bar shows
 * the bytes received on a terminal.
 *
 * Exit codes: 0 written; 1 the image could not be decoded or the file written; 2 bad arguments;
 * 3 the server could not be reached; 4 the server answered with an HTTP error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs as parseNodeArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { PNG } from 'pngjs';
import { cropWindow, decodeJ2k, type DecodedImage } from '../client/decode.js';
import { levelForWidth, sizOf } from '../client/frame.js';
import { reassembleCodestream } from '../client/reassemble.js';
import { JpipHttpError, JpipSession, type ClientResponse, type Fields } from '../client/session.js';
import { UsageError } from './args.js';

/** Usage text of the get command. */
export const GET_USAGE = `usage:
  jpipd get URL --fsiz W[,H] [--roff X,Y] [--rsiz W,H] [--stream N | --frames A-B] [--layers L]
                [--len BYTES] -o OUT.png|OUT.j2k     (with --frames: -o frame-%03d.png)`;

/** Exit codes of `jpipd get`. */
export const GET_EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3, http: 4 } as const;

/** The server answered a request with an HTTP error. */
class HttpFailure extends Error {}
/** The server could not be reached. */
class Unreachable extends Error {}

/** What to fetch and where to write it. */
interface GetArgs {
  base: string;
  target: string;
  window: Fields;
  frames: number[];
  out: string;
  len: number;
}

const PAIR = /^\d{1,6},\d{1,6}$/;

function pair(v: string | undefined, name: string): [number, number] | undefined {
  if (v === undefined) return undefined;
  if (!PAIR.test(v)) throw new UsageError(`--${name} must be X,Y (two whole numbers)`);
  const [a, b] = v.split(',').map(Number);
  return [a, b];
}

function whole(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

/** Parses and checks the command line (util.parseArgs). */
export function parseGetArgs(argv: string[]): GetArgs {
  let parsed;
  try {
    parsed = parseNodeArgs({
      args: argv,
      allowPositionals: true,
      options: {
        fsiz: { type: 'string' },
        roff: { type: 'string' },
        rsiz: { type: 'string' },
        stream: { type: 'string' },
        frames: { type: 'string' },
        layers: { type: 'string' },
        len: { type: 'string' },
        out: { type: 'string', short: 'o' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'get needs the URL of an image' : `unexpected argument ${positionals[1]}`);
  let url: URL;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`not a URL: ${positionals[0]}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('the URL must be http:// or https://');
  const target = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  if (!target) throw new UsageError('the URL names no image');
  if (!v.fsiz || !/^\d{1,6}(,\d{1,6})?(,(round-up|round-down|closest))?$/.test(v.fsiz)) throw new UsageError('--fsiz W[,H][,round-up|round-down|closest] is required');
  const f = v.fsiz.split(',');
  const fsiz = f.length === 1 || /^[a-z]/.test(f[1]) ? [f[0], f[0], ...f.slice(1)].join(',') : v.fsiz;
  if (!v.out) throw new UsageError('-o OUT.png|OUT.j2k is required');
  if (!/\.(png|j2k|j2c)$/i.test(v.out)) throw new UsageError('-o must end in .png or .j2k');
  let frames: number[];
  if (v.frames !== undefined) {
    if (v.stream !== undefined) throw new UsageError('give --stream or --frames, not both');
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v.frames);
    if (!m) throw new UsageError('--frames must be A-B (or A)');
    const a = Number(m[1]);
    const b = Number(m[2] ?? m[1]);
    if (b < a || b - a >= 10_000) throw new UsageError('--frames A-B needs A ≤ B and at most 10,000 frames');
    frames = Array.from({ length: b - a + 1 }, (_, i) => a + i);
    if (frames.length > 1 && !/%0?\d*d/.test(v.out)) throw new UsageError('with several --frames, -o needs a frame number pattern such as frame-%03d.png');
  } else frames = [whole(v.stream, 'stream', 0, 65535) ?? 0];
  const roff = pair(v.roff, 'roff');
  const rsiz = pair(v.rsiz, 'rsiz');
  const layers = whole(v.layers, 'layers', 1, 65535);
  const window: Fields = { type: 'jpp-stream', fsiz, roff: roff?.join(','), rsiz: rsiz?.join(','), layers };
  return { base: url.origin, target, window, frames, out: v.out, len: whole(v.len, 'len', 1, 1 << 30) ?? 2_000_000 };
}

/** The output file of frame `f`: a printf-style %d / %03d in the name is replaced by the frame number. */
export function frameFile(pattern: string, f: number): string {
  return pattern.replace(/%(0?)(\d*)d/, (_, zero: string, width: string) => String(f).padStart(Number(width || 0), zero ? '0' : ' '));
}

/** Sends through the session, turning network failures and HTTP errors into the command's errors. */
async function checked<T extends ClientResponse | ClientResponse[]>(what: string, go: () => Promise<T>): Promise<T> {
  const failed = (x: ClientResponse): HttpFailure => new HttpFailure(`${what}: the server answered ${x.status}: ${new TextDecoder().decode(x.body).trim().split('\n')[0]}`);
  let r: T;
  try {
    r = await go();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (e instanceof TypeError && cause) throw new Unreachable(`cannot reach the server: ${cause.code ?? cause.message ?? 'fetch failed'}`);
    if (e instanceof JpipHttpError) throw failed(e.response);
    throw e;
  }
  for (const x of Array.isArray(r) ? r : [r]) if (x.status !== 200) throw failed(x);
  return r;
}

/** Interleaved samples to a PNG (gray or RGB; 8 bits, or 16 bits for deeper samples, MSB-aligned). */
export function toPng(img: DecodedImage): Buffer {
  const nc = img.components === 1 ? 1 : 3;
  if (img.components !== 1 && img.components < 3) throw new Error(`cannot write ${img.components} components as PNG`);
  const deep = img.bitsPerSample > 8;
  const bitDepth = deep ? 16 : 8;
  const shift = bitDepth - img.bitsPerSample;
  const offset = img.signed ? 2 ** (img.bitsPerSample - 1) : 0;
  const n = img.width * img.height;
  const data = Buffer.alloc(n * nc * (deep ? 2 : 1));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < nc; c++) {
      const v = (img.pixels[i * img.components + c] + offset) * 2 ** shift;
      if (deep) data.writeUInt16BE(v, (i * nc + c) * 2);
      else data[i * nc + c] = v;
    }
  }
  const colorType = nc === 1 ? 0 : 2;
  return PNG.sync.write(Object.assign(new PNG({ width: img.width, height: img.height, bitDepth, colorType, inputColorType: colorType, inputHasAlpha: false }), { data }), {
    bitDepth,
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
  });
}

/** Runs `jpipd get`; returns the exit code. */
export async function getCommand(argv: string[], err: NodeJS.WriteStream, out: NodeJS.WriteStream = process.stdout): Promise<number> {
  let args: GetArgs;
  try {
    args = parseGetArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`jpipd: ${e.message}\n${GET_USAGE}\n`);
      return GET_EXIT.usage;
    }
    throw e;
  }
  const bar = err.isTTY ? new SingleBar({ format: 'frame {frame} [{bar}] {value} bytes', hideCursor: false, stream: err }) : null;
  const session = new JpipSession(args.base, args.target);
  try {
    await checked('opening a channel', () => session.open({ len: 0, stream: args.frames[0] }));
    for (const f of args.frames) {
      let received = 0;
      bar?.start(1, 0, { frame: f });
      await checked(`frame ${f}`, () =>
        session.fetchWindow({ ...args.window, stream: f, len: args.len }, 10_000, (r) => {
          received += r.body.length;
          const more = r.eor !== 1 && r.eor !== 2;
          bar?.setTotal(received + (more ? args.len : 0));
          bar?.update(received, { frame: f });
        }),
      );
      bar?.stop();
      const file = args.frames.length > 1 ? frameFile(args.out, f) : args.out;
      const cs = reassembleCodestream(session.cache, f);
      if (/\.png$/i.test(file)) {
        const last = session.responses[session.responses.length - 1];
        const [fx, fy] = (last.headers.get('jpip-fsiz') ?? String(args.window.fsiz)).split(',').map(Number);
        const img = await decodeJ2k(cs, levelForWidth(sizOf(cs), fx));
        const [ox, oy] = (last.headers.get('jpip-roff') ?? String(args.window.roff ?? '0,0')).split(',').map(Number);
        const [sx, sy] = (last.headers.get('jpip-rsiz') ?? String(args.window.rsiz ?? `${fx - ox},${fy - oy}`)).split(',').map(Number);
        fs.writeFileSync(file, toPng(cropWindow(img, fx, fy, ox, oy, sx, sy)));
      } else fs.writeFileSync(file, cs);
      out.write(`${path.basename(file)}: frame ${f}, ${received} bytes received\n`);
    }
    await session.close().catch(() => {});
    return GET_EXIT.ok;
  } catch (e) {
    bar?.stop();
    err.write(`jpipd: ${(e as Error).message}\n`);
    if (e instanceof Unreachable) return GET_EXIT.unreachable;
    if (e instanceof HttpFailure) return GET_EXIT.http;
    return GET_EXIT.failed;
  }
}
