/**
 * Resolving the links of a hyperlinked JPX to files inside the image root (notes §4.5): `file://`
 * URLs and URLs relative to the movie's folder, percent-decoded once. A link that leaves the root
 * (lexically, or through a symlink), names no regular file, or uses another scheme makes that frame
 * an error; it is never read. The data reference box sent to clients never carries a server path:
 * absolute URLs are rewritten relative to the movie.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import type { LinkedCodestream, MetadataItem, TargetLayout } from '../j2k/types.js';
import { isInside } from './paths.js';

/** Why a link cannot be served (the same message whatever the cause, with the frame number). */
const linkError = (frame: number) => ({ code: 'ERR_TARGET_NOT_FOUND', message: `frame ${frame}: linked file not found` });

/** Turns a URL into an absolute path, or null for schemes other than file. */
function urlToPath(url: string, movieDir: string): string | null {
  let p: string;
  try {
    if (/^file:/i.test(url)) {
      // file:///abs, file://localhost/abs, file:/abs (RFC 8089)
      p = decodeURIComponent(url.replace(/^file:(\/\/(localhost)?)?/i, ''));
      if (!p.startsWith('/')) return null;
      return path.resolve(p);
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return null;
    p = decodeURIComponent(url);
  } catch {
    return null;
  }
  if (p.includes('\0')) return null;
  return path.resolve(movieDir, p);
}

/** Resolves one link to a path relative to `root`, or returns the error for that frame. */
function resolveLink(root: string, movieAbs: string, link: LinkedCodestream, frame: number): LinkedCodestream {
  if (link.error) return link;
  const abs = urlToPath(link.url, path.dirname(movieAbs));
  if (!abs || !isInside(root, abs)) return { ...link, error: linkError(frame) };
  try {
    const real = fs.realpathSync(abs);
    if (!isInside(root, real) || !fs.statSync(real).isFile()) return { ...link, error: linkError(frame) };
    return { ...link, rel: path.relative(root, real).split(path.sep).join('/') };
  } catch {
    return { ...link, error: linkError(frame) };
  }
}

/** A `url ` box (15444-2 M.11.3.4) with version 0 and flags 0. */
function urlBox(url: string): Buffer {
  const loc = Buffer.from(url + '\0', 'utf8');
  const b = Buffer.alloc(12 + loc.length);
  b.writeUInt32BE(b.length, 0);
  b.write('url ', 4, 'latin1');
  loc.copy(b, 12);
  return b;
}

/** Rebuilds a dtbl box with the given URLs (15444-2 M.11.3.3). */
function dtblBox(urls: string[]): Buffer {
  const kids = Buffer.concat(urls.map(urlBox));
  const head = Buffer.alloc(10);
  head.writeUInt32BE(10 + kids.length, 0);
  head.write('dtbl', 4, 'latin1');
  head.writeUInt16BE(urls.length, 8);
  return Buffer.concat([head, kids]);
}

/**
 * Resolves every link of a hyperlinked JPX layout (a no-op for other layouts) and, when the data
 * reference box holds absolute URLs, replaces it in metadata-bin 0 by one whose URLs are relative to
 * the movie (unresolvable ones become `missing`).
 */
export function resolveLinks(layout: TargetLayout, root: string, movieAbs: string, movieRel: string): TargetLayout {
  if (!layout.links) return layout;
  const links = layout.links.map((l, i) => resolveLink(root, movieAbs, l, i));
  const urls: string[] = [];
  for (const l of layout.links) if (l.dr > 0) urls[l.dr - 1] = l.url;
  if (!urls.some((u) => u !== undefined && /^file:/i.test(u))) return { ...layout, links };
  const byDr = new Map<number, string>();
  for (const l of links) if (l.dr > 0) byDr.set(l.dr, l.rel ? path.posix.relative(path.posix.dirname(movieRel), l.rel) : 'missing');
  const dtbl = layout.boxes.find((b) => b.type === 'dtbl');
  if (!dtbl) return { ...layout, links };
  const count = Math.max(urls.length, ...byDr.keys());
  const rewritten = dtblBox(Array.from({ length: count }, (_, i) => encodeURI(byDr.get(i + 1) ?? 'missing')));
  const metadata: MetadataItem[] = [];
  for (const item of layout.metadata) {
    if (item.kind !== 'inline' || dtbl.offset < item.offset || dtbl.offset >= item.offset + item.length) {
      metadata.push(item);
      continue;
    }
    // Split the inline range around the dtbl box.
    if (dtbl.offset > item.offset) metadata.push({ kind: 'inline', offset: item.offset, length: dtbl.offset - item.offset });
    metadata.push({ kind: 'rewritten', box: dtbl, hex: rewritten.toString('hex') });
    const after = item.offset + item.length - (dtbl.offset + dtbl.length);
    if (after > 0) metadata.push({ kind: 'inline', offset: dtbl.offset + dtbl.length, length: after });
  }
  return { ...layout, links, metadata };
}
