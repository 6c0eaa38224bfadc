/**
 * The file-system side of `jpipd movie`: finding frame files (files, folders, `*`/`?` globs), opening
 * them as byte sources, turning frame paths into the movie's URLs, and writing the movie atomically
 * (temporary file + link or rename, so a reader never sees a half-written movie).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { globSegment, hasWildcard } from '../movie/frames.js';
import { FileSource } from './file-source.js';

/** A frame file: its absolute path and the name shown in messages. */
export interface FrameFile {
  abs: string;
  display: string;
}

/** Frame files found for the inputs, and one message per input that named nothing usable. */
export interface FoundFrames {
  files: FrameFile[];
  problems: string[];
}

/** True for a regular file (after following symlinks). */
function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** True for a directory (after following symlinks). */
function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The *.jp2 files directly inside a folder (not recursive, hidden files skipped), by name. */
function jp2sIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.') && /\.jp2$/i.test(n) && isFile(path.join(dir, n)))
    .sort();
}

/** Expands a glob pattern whose segments may hold `*` and `?` (no `**`, no brackets); returns file paths. */
export function globFiles(pattern: string, cwd: string): string[] {
  const absolute = path.isAbsolute(pattern);
  const segments = pattern.split(/[/\\]+/).filter((s, i) => s !== '' || (i === 0 && !absolute));
  let current = [absolute ? path.parse(path.resolve(pattern)).root : ''];
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const base of current) {
      const dir = path.resolve(cwd, base || '.');
      if (!hasWildcard(seg)) {
        const p = base ? path.join(base, seg) : seg;
        if (last ? isFile(path.resolve(cwd, p)) : isDir(path.resolve(cwd, p))) next.push(p);
        continue;
      }
      if (!isDir(dir)) continue;
      const re = globSegment(seg);
      for (const name of fs.readdirSync(dir).sort()) {
        if (!re.test(name)) continue;
        const p = base ? path.join(base, name) : name;
        if (last ? isFile(path.resolve(cwd, p)) : isDir(path.resolve(cwd, p))) next.push(p);
      }
    }
    current = next;
  });
  return current;
}

/**
 * Resolves the command's inputs: an existing file is a frame; an existing folder gives its *.jp2
 * files; otherwise an argument with `*` or `?` is a glob. Duplicates (same absolute path) are kept once.
 */
export function findFrameFiles(inputs: readonly string[], cwd: string): FoundFrames {
  const files: FrameFile[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const add = (display: string): void => {
    const abs = path.resolve(cwd, display);
    if (seen.has(abs)) return;
    seen.add(abs);
    files.push({ abs, display });
  };
  for (const arg of inputs) {
    const abs = path.resolve(cwd, arg);
    if (isFile(abs)) add(arg);
    else if (isDir(abs)) {
      const found = jp2sIn(abs);
      if (found.length === 0) problems.push(`folder ${arg} holds no .jp2 files`);
      for (const n of found) add(path.join(arg, n));
    } else if (hasWildcard(arg)) {
      const found = globFiles(arg, cwd);
      if (found.length === 0) problems.push(`${arg} matches no files`);
      for (const p of found) add(p);
    } else problems.push(`no such file or folder: ${arg}`);
  }
  return { files, problems };
}

/** Open frame files as byte sources; `close()` releases every descriptor. */
export interface OpenFrames {
  sources: FileSource[];
  close(): void;
}

/** Opens frame files for synchronous positional reads. */
export function openFrameFiles(files: readonly FrameFile[]): OpenFrames {
  const sources: FileSource[] = [];
  const close = (): void => {
    for (const s of sources.splice(0)) fs.closeSync(s.fd);
  };
  try {
    for (const f of files) {
      const fd = fs.openSync(f.abs, 'r');
      try {
        sources.push(new FileSource(fd, fs.fstatSync(fd).size));
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
    }
  } catch (e) {
    close();
    throw e;
  }
  return { sources, close };
}

/** The path with its folder resolved through symlinks (the file itself is kept as named). */
function realFolderPath(abs: string): string {
  return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
}

/**
 * The URL a movie at `movieAbs` uses for the frame at `frameAbs`: relative to the movie's folder with
 * each path segment percent-encoded (e.g. `frames/aia%20001.jp2`), or `file:///…` when `absolute`.
 */
export function frameUrl(frameAbs: string, movieAbs: string, absolute: boolean): string {
  const frame = realFolderPath(frameAbs);
  if (absolute) return pathToFileURL(frame).href;
  const rel = path.relative(fs.realpathSync(path.dirname(movieAbs)), frame);
  return rel.split(path.sep).map(encodeURIComponent).join('/');
}

/** Thrown by writeFileAtomic when the output exists and `force` is false. */
export class OutputExistsError extends Error {}

/**
 * Writes a file atomically: `produce` writes into a temporary file next to `outAbs`, which is flushed
 * and then linked into place (fails if `outAbs` exists) or, with `force`, renamed over it. The
 * temporary file is removed on any failure.
 */
export function writeFileAtomic(outAbs: string, force: boolean, produce: (write: (chunk: Uint8Array) => void) => void): void {
  const tmp = path.join(path.dirname(outAbs), `.${path.basename(outAbs)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  let closed = false;
  try {
    let pos = 0;
    produce((chunk) => {
      let done = 0;
      while (done < chunk.length) {
        done += fs.writeSync(fd, chunk, done, chunk.length - done, pos + done);
      }
      pos += chunk.length;
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    if (force) fs.renameSync(tmp, outAbs);
    else {
      const exists = (): OutputExistsError => new OutputExistsError(`${path.basename(outAbs)} exists (use --force to overwrite)`);
      try {
        fs.linkSync(tmp, outAbs);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw exists();
        // File systems without hard links: check, then rename (a small race instead of none).
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
        if (fs.existsSync(outAbs)) throw exists();
        fs.renameSync(tmp, outAbs);
      }
    }
  } finally {
    if (!closed) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
  }
}
