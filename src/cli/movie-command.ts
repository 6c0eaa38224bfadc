/**
 * `jpipd movie`: builds a hyperlinked JPX movie (or, with --embed, a self-contained one) from JP2
 * frames named by files, folders or `*`/`?` globs, sorted by name or by the date in their XML.
 * Exit codes: 0 written, 1 a frame is unusable or writing failed, 2 bad arguments (including
 * frames without a date under --sort date and an existing output without --force).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findFrameFiles, frameUrl, openFrameFiles, OutputExistsError, writeFileAtomic, type FrameFile } from '../io/movie-files.js';
import { planMovie, writeMovie, type MovieMode } from '../movie/build-movie.js';
import { checkSameGeometry, inspectFrame, MAX_FRAMES, sortFrames, type MovieFrame } from '../movie/frames.js';
import { parseArgs, stringOption, UsageError } from './args.js';
import { progress } from './progress.js';

/** Usage text of the movie command. */
export const MOVIE_USAGE = `usage:
  jpipd movie --out MOVIE.jpx [--sort name|date] [--absolute | --embed] [--force] FRAME|FOLDER|GLOB...`;

/** Parsed and checked arguments. */
interface MovieArgs {
  inputs: string[];
  outAbs: string;
  out: string;
  sort: 'name' | 'date';
  mode: MovieMode;
  absolute: boolean;
  force: boolean;
}

function parseMovieArgs(argv: string[]): MovieArgs {
  const args = parseArgs(argv, { out: 'value', sort: 'value', absolute: 'flag', embed: 'flag', force: 'flag' });
  const out = stringOption(args, 'out');
  if (!out) throw new UsageError('movie needs --out MOVIE.jpx');
  if (args.positionals.length === 0) throw new UsageError('movie needs at least one frame, folder or glob');
  const sort = stringOption(args, 'sort', 'name');
  if (sort !== 'name' && sort !== 'date') throw new UsageError('--sort must be name or date');
  const embed = args.options.has('embed');
  const absolute = args.options.has('absolute');
  if (embed && absolute) throw new UsageError('--absolute only applies to linked movies, not with --embed');
  const outAbs = path.resolve(out);
  let dirOk = false;
  try {
    dirOk = fs.statSync(path.dirname(outAbs)).isDirectory();
  } catch {
    dirOk = false;
  }
  if (!dirOk) throw new UsageError(`the folder of --out ${out} does not exist`);
  if (fs.existsSync(outAbs) && fs.statSync(outAbs).isDirectory()) throw new UsageError(`--out ${out} is a folder; name the movie file`);
  return { inputs: args.positionals, outAbs, out, sort, mode: embed ? 'embed' : 'linked', absolute, force: args.options.has('force') };
}

/** Finds the frame files and checks the output is neither present (without --force) nor a frame. */
function frameFiles(a: MovieArgs): FrameFile[] {
  const { files, problems } = findFrameFiles(a.inputs, process.cwd());
  if (problems.length) throw new UsageError(problems.join('; '));
  if (files.length === 0) throw new UsageError('no frames found');
  if (files.length > MAX_FRAMES) throw new UsageError(`${files.length} frames: a movie holds at most ${MAX_FRAMES}`);
  if (files.some((f) => f.abs === a.outAbs)) throw new UsageError(`--out ${a.out} is one of the frames`);
  if (fs.existsSync(a.outAbs) && !a.force) throw new UsageError(`${a.out} exists (use --force to overwrite)`);
  return files;
}

/** Builds the movie; returns the summary line. Throws UsageError for argument problems. */
function buildMovie(a: MovieArgs, out: NodeJS.WriteStream): string {
  const files = frameFiles(a);
  const open = openFrameFiles(files);
  try {
    const reading = progress(out, 'reading');
    const frames: MovieFrame[] = files.map((f, i) => {
      const frame = inspectFrame(open.sources[i], f.display);
      reading.update(i + 1, files.length, f.display);
      return frame;
    });
    reading.stop();
    const index = new Map(frames.map((f, i) => [f, i]));
    const { sorted, undated } = sortFrames(frames, a.sort);
    if (undated.length) throw new UsageError(`--sort date: no DATE-OBS, DATE_OBS or T_OBS date in the XML of ${undated.join(', ')}`);
    checkSameGeometry(sorted);
    const order = sorted.map((f) => index.get(f) as number);
    const sources = order.map((i) => open.sources[i]);
    const urls = a.mode === 'linked' ? order.map((i) => frameUrl(files[i].abs, a.outAbs, a.absolute)) : undefined;
    const plan = planMovie(sorted, sources, { mode: a.mode, urls });
    const writing = progress(out, 'writing');
    writeFileAtomic(a.outAbs, a.force, (write) => {
      writeMovie(plan, sources, write, (i) => writing.update(i + 1, sorted.length, sorted[i].name));
    });
    writing.stop();
    return `wrote ${a.out}: ${sorted.length} frame(s), ${a.mode === 'linked' ? 'linked' : 'embedded'}, ${plan.size} bytes`;
  } finally {
    open.close();
  }
}

/** Runs `jpipd movie ARGS`, writing progress and messages to `out` (stderr); returns the exit code. */
export async function movieCommand(argv: string[], out: NodeJS.WriteStream): Promise<number> {
  try {
    const summary = buildMovie(parseMovieArgs(argv), out);
    out.write(summary + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof OutputExistsError) {
      out.write(`jpipd: ${e.message}\n${MOVIE_USAGE}\n`);
      return 2;
    }
    out.write(`jpipd: movie failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
