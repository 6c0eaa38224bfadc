/**
 * Rate-distortion side by side: the ESA paper's zoom sequence ((0,0,512,512,d3) → (512,512,512,512,d2)
 * → (1024,1024,512,512,d1)) on a 4096² image, one channel per server; for each window the PSNR of the
 * window's pixels after 4, 8, 16, 24, 32, 48, 64 and 128 KB of JPP (`--budgets` in KB), decoded with OpenJPEG (wasm) from what the
 * client received and compared with the decode of the original file. It starts no server: pass each
 * as name=URL (127.0.0.1 only).
 *
 * Usage: node --import tsx native-free-bench/rd.ts --image /tmp/jpipd-bench/images/gray4096.jp2
 *          --server jpipd=http://127.0.0.1:18190 --server esajpip=http://127.0.0.1:18191  [--target gray4096.jp2] [--budgets 8,16,32]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { jp2cBoxes } from '../test/helpers/boxes.js';
import { decodeJ2k, type DecodedImage } from '../test/helpers/openjpeg.js';
import { PAPER_WINDOWS, rateDistortion, type RdCurve } from '../test/helpers/rd.js';
import { checkLocalUrl, Connection } from './lib/http-client.js';

/** A fetch over one keep-alive connection (esajpip binds a channel to its TCP connection). */
function oneConnection(base: string): typeof fetch {
  const conn = new Connection(new URL(base));
  return (async (input: string | URL | Request) => {
    const u = new URL(String(input));
    const x = await conn.get(u.pathname + u.search, true);
    const body = x.body ?? Buffer.alloc(0);
    return {
      status: x.status,
      headers: new Headers(x.headers),
      arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
    } as Response;
  }) as typeof fetch;
}

const argv = process.argv.slice(2);
const servers: Array<{ name: string; url: string }> = [];
let image = '';
let target = '';
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--server') {
    const m = /^([\w.-]+)=(http:\/\/.+)$/.exec(argv[++i] ?? '');
    if (!m) throw new Error('--server wants name=http://127.0.0.1:PORT');
    checkLocalUrl(m[2]);
    servers.push({ name: m[1], url: m[2] });
  } else if (argv[i] === '--image') image = argv[++i];
  else if (argv[i] === '--target') target = argv[++i];
}
if (!image || servers.length === 0) throw new Error('usage: rd.ts --image FILE --server name=URL [--server …] [--target NAME]');
target ||= basename(image);

const file = new Uint8Array(readFileSync(image));
const codestream = file[0] === 0xff && file[1] === 0x4f ? file : jp2cBoxes(file)[0].payload;
const originals = new Map<number, DecodedImage>();
const original = async (d: number): Promise<DecodedImage> => {
  let img = originals.get(d);
  if (!img) originals.set(d, (img = await decodeJ2k(codestream, d)));
  return img;
};
const budgetArg = argv.indexOf('--budgets');
const BUDGETS = budgetArg >= 0 ? argv[budgetArg + 1].split(',').map((k) => Number(k) * 1024) : [4, 8, 16, 24, 32, 48, 64, 128].map((k) => k * 1024);

const results = new Map<string, RdCurve[]>();
for (const s of servers) results.set(s.name, await rateDistortion(s.url, target, 4096, PAPER_WINDOWS, BUDGETS, original, oneConnection(s.url)));

console.log(`## Rate-distortion: the paper's zoom sequence on ${target}, PSNR (dB) of the window after each budget\n`);
console.log(`| window | budget | ${servers.map((s) => `${s.name} PSNR (bytes)`).join(' | ')} |`);
console.log(`|---|---|${servers.map(() => '---|').join('')}`);
for (let w = 0; w < PAPER_WINDOWS.length; w++) {
  const win = PAPER_WINDOWS[w];
  for (let b = 0; b < BUDGETS.length; b++) {
    const cells = servers.map((s) => {
      const p = (results.get(s.name) as RdCurve[])[w].points[b];
      return `${Number.isFinite(p.psnr) ? p.psnr.toFixed(2) : 'exact'} (${p.bytes})`;
    });
    console.log(`| (${win.x},${win.y},${win.w},${win.h}) d${win.d} | ${BUDGETS[b] / 1024} KB | ${cells.join(' | ')} |`);
  }
}
console.log(`\nBytes to complete each window: ${servers.map((s) => `${s.name} ${(results.get(s.name) as RdCurve[]).map((c) => c.total).join(' / ')}`).join('; ')}`);
