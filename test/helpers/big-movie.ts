/**
 * A temporary image root with an embedded JPX movie large enough that a response for all its frames
 * outgrows the socket buffers (copies of the 4096² fixture, about 1.7 MB a frame): such a response is
 * streamed piece by piece, so a client that does not read keeps it — and its session — in progress.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { movieCommand } from '../../src/cli/movie-command.js';
import { FIXTURES } from './server.js';

/** The root, the movie's name in it, and its frame count. */
export interface BigMovie {
  root: string;
  movie: string;
  frames: number;
  remove(): void;
}

/** Builds `frames` copies of the 4096² JP2 into one embedded movie (`movie.jpx`) in a new root. */
export async function bigMovie(frames = 12): Promise<BigMovie> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'jpipd-big-movie-')));
  const dir = path.join(root, 'frames');
  fs.mkdirSync(dir);
  const inputs: string[] = [];
  for (let i = 0; i < frames; i++) {
    const f = path.join(dir, `f${String(i).padStart(2, '0')}.jp2`);
    fs.copyFileSync(path.join(FIXTURES, 'gray4096-rpcl-p128-l8.jp2'), f);
    inputs.push(f);
  }
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const code = await movieCommand(['--out', path.join(root, 'movie.jpx'), '--embed', ...inputs], sink as unknown as NodeJS.WriteStream);
  if (code !== 0) throw new Error(`jpipd movie failed (${code})`);
  return { root, movie: 'movie.jpx', frames, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}
