/**
 * Path safety for JPIP targets: maps a request target (URL path or `target=` value, already
 * percent-decoded once) to a regular file under the image root. Every rejection, whatever its cause,
 * is the same `ERR_TARGET_NOT_FOUND 'no such image'`, so a client learns nothing about the
 * server's file system and no absolute path is ever echoed.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { JpipdError } from '../errors.js';

/** Longest target accepted, in characters. */
export const MAX_TARGET_LENGTH = 1024;

/** A resolved target: `abs` is the real path of the file, `rel` its '/'-separated path under root. */
export interface ResolvedTarget {
  abs: string;
  rel: string;
}

const notFound = (): JpipdError => new JpipdError('ERR_TARGET_NOT_FOUND', 'no such image');

/** True when `abs` is `root` itself or lies beneath it (both absolute and normalised). */
export function isInside(root: string, abs: string): boolean {
  const r = path.relative(root, abs);
  if (r === '') return true;
  if (path.isAbsolute(r)) return false;
  return r !== '..' && !r.startsWith(`..${path.sep}`);
}

/**
 * Checks a target lexically (no file-system access): strips one leading '/', then rejects empty,
 * over-long, NUL/control characters, backslashes, drive letters, absolute paths, empty segments and
 * any segment starting with '.' (which covers '.', '..' and hidden files). Returns the relative path.
 */
export function checkTargetSyntax(target: string): string {
  if (typeof target !== 'string' || target.length > MAX_TARGET_LENGTH) throw notFound();
  const rel = target.startsWith('/') ? target.slice(1) : target;
  if (rel === '') throw notFound();
  if (/[\x00-\x1f\x7f\\]/.test(rel)) throw notFound();
  if (/^[A-Za-z]:/.test(rel) || rel.startsWith('/') || path.isAbsolute(rel)) throw notFound();
  for (const seg of rel.split('/')) {
    if (seg === '' || seg.startsWith('.')) throw notFound();
  }
  return rel;
}

/**
 * Resolves a target under `root` (an absolute, realpath'ed directory): lexical checks, then realpath,
 * which must stay inside root (symlinks within root are followed) and name a regular file. Synchronous
 * (two system calls): front ends cache the answer for a short while.
 */
export function resolveTarget(root: string, target: string): ResolvedTarget {
  const rel = checkTargetSyntax(target);
  let abs: string;
  try {
    abs = realpathSync(path.join(root, rel));
    if (!isInside(root, abs) || abs === root) throw notFound();
    if (!statSync(abs).isFile()) throw notFound();
  } catch {
    throw notFound();
  }
  return { abs, rel: path.relative(root, abs).split(path.sep).join('/') };
}

/** A log-safe form of a relative target: printable ASCII only, at most 200 characters, never absolute. */
export function safeName(rel: string): string {
  const s = String(rel)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/^[A-Za-z]:/, '')
    .replace(/^[\/\\]+/, '');
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** True when `dir` is a directory this process can list and enter (the readiness check of /readyz). */
export function isReadableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
