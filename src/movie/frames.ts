/**
 * Movie frames: what `jpipd movie` needs to know of each JP2 frame (15444-1 Annex I), read through a
 * ByteSource with every box length bounded, plus the observation date of Helioviewer's FITS XML,
 * frame sorting and the tiny glob matcher used to name frames. No I/O here (io/movie-files.ts).
 */
import { be, type ByteSource } from '../bytes/source.js';
import { corrupt, JpipdError, overLimit, unsupported } from '../errors.js';
import { listBoxes } from '../j2k/boxes.js';
import { SIZ, SOC } from '../j2k/markers.js';
import { parseSiz } from '../j2k/segments.js';
import type { BoxRef } from '../j2k/types.js';

/** Most frames in one movie: NDR of the data reference box is 16 bits (15444-2 M.11.2). */
export const MAX_FRAMES = 65535;
/** Largest header box (jp2h and its children) read into memory. */
export const MAX_HEADER_BOX = 16 * 1024 * 1024;
/** Most bytes of one XML box searched for an observation date. */
export const MAX_DATE_SCAN = 16 * 1024 * 1024;
/** Most boxes accepted inside a jp2h box. */
const MAX_HEADER_CHILDREN = 1024;
/** The 12-byte JPEG 2000 signature box (15444-1 I.5.1). */
const SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

/** A frame's observation time: milliseconds since 1970 (UTC) and the sub-millisecond remainder. */
export interface DateKey {
  ms: number;
  sub: number;
}

/** Header boxes found in a frame's jp2h (15444-1 I.5.3), as located in the frame file. */
export interface FrameHeaderBoxes {
  ihdr: BoxRef;
  bpcc: BoxRef | null;
  colr: BoxRef[];
  pclr: BoxRef | null;
  cmap: BoxRef | null;
  cdef: BoxRef | null;
  res: BoxRef | null;
}

/** Everything the movie builder needs to know of one JP2 frame. */
export interface MovieFrame {
  /** How the frame is named in messages (the path as the user gave it or found it). */
  name: string;
  /** The jp2h box of the frame. */
  jp2h: BoxRef;
  header: FrameHeaderBoxes;
  /** Image size and component count from SIZ (Xsiz - XOsiz, Ysiz - YOsiz, Csiz). */
  width: number;
  height: number;
  components: number;
  /** The codestream uses Part 2 extensions (Rsiz bit 15). */
  part2: boolean;
  /** Top-level xml and asoc boxes in file order (copied into the movie). */
  metadata: BoxRef[];
  /** The codestream: payload of the single jp2c box. */
  codestream: { offset: number; length: number };
  /** Observation date from the XML (DATE-OBS, DATE_OBS or T_OBS), or null. */
  date: DateKey | null;
  /** The date text as found, for messages. */
  dateText: string | null;
}

/** Checks the file type box: a JP2 file or one declaring JP2 compatibility (15444-1 I.5.1, I.5.2). */
function checkJp2(src: ByteSource, boxes: BoxRef[], name: string): void {
  const ftyp = boxes[1];
  if (!ftyp || ftyp.type !== 'ftyp') throw corrupt(`${name}: the signature box is not followed by 'ftyp'`);
  const n = ftyp.length - ftyp.headerLength;
  if (n < 8 || n > 4096 || (n - 8) % 4 !== 0) throw corrupt(`${name}: 'ftyp' box length ${ftyp.length}`);
  const body = src.read(ftyp.offset + ftyp.headerLength, n);
  const brands: string[] = [];
  for (let p = 0; p < n; p += 4) if (p !== 4) brands.push(String.fromCharCode(body[p], body[p + 1], body[p + 2], body[p + 3]));
  if (brands[0] === 'jpx ') throw unsupported(`${name}: a JPX file cannot be a movie frame (frames are JP2 files)`);
  if (!brands.includes('jp2 ')) throw unsupported(`${name}: file type brand '${brands[0]}' is not JP2`);
}

/** Locates the header boxes of a jp2h box (15444-1 I.5.3: ihdr first, then the others). */
function headerBoxes(src: ByteSource, jp2h: BoxRef, name: string): FrameHeaderBoxes {
  if (jp2h.length > MAX_HEADER_BOX) throw overLimit(`${name}: 'jp2h' box of ${jp2h.length} bytes`);
  const kids = listBoxes(src, jp2h.offset + jp2h.headerLength, jp2h.offset + jp2h.length);
  if (kids.length > MAX_HEADER_CHILDREN) throw overLimit(`${name}: ${kids.length} boxes in 'jp2h'`);
  const one = (type: string): BoxRef | null => {
    const found = kids.filter((k) => k.type === type);
    if (found.length > 1) throw corrupt(`${name}: more than one '${type}' box in 'jp2h'`);
    return found[0] ?? null;
  };
  const ihdr = one('ihdr');
  if (!ihdr || kids[0] !== ihdr) throw corrupt(`${name}: 'jp2h' does not start with an 'ihdr' box`);
  if (ihdr.length - ihdr.headerLength !== 14) throw corrupt(`${name}: 'ihdr' box length ${ihdr.length}`);
  const colr = kids.filter((k) => k.type === 'colr');
  if (colr.length === 0) throw corrupt(`${name}: no 'colr' box in 'jp2h'`);
  return { ihdr, bpcc: one('bpcc'), colr, pclr: one('pclr'), cmap: one('cmap'), cdef: one('cdef'), res: one('res ') };
}

/** Reads SIZ at the start of the codestream (15444-1 A.5.1: SOC then SIZ). */
function codestreamSize(src: ByteSource, offset: number, length: number, name: string): { width: number; height: number; components: number; part2: boolean } {
  if (length < 4 + 41) throw corrupt(`${name}: codestream of ${length} bytes is too short`);
  const head = src.read(offset, 6);
  if (be.u16(head, 0) !== SOC || be.u16(head, 2) !== SIZ) throw corrupt(`${name}: the 'jp2c' box does not start with SOC, SIZ`);
  const Lsiz = be.u16(head, 4);
  if (4 + Lsiz > length) throw corrupt(`${name}: SIZ segment leaves the codestream`);
  const siz = parseSiz(src.read(offset + 4, Lsiz));
  // 15444-1 A.5.1 Table A.10 / 15444-2 A.2: Rsiz bit 15 announces Part 2 extensions.
  return { width: siz.Xsiz - siz.XOsiz, height: siz.Ysiz - siz.YOsiz, components: siz.Csiz, part2: siz.Rsiz >= 0x8000 };
}

/**
 * Inspects one JP2 frame (15444-1 I.4, I.5): signature and JP2 file type, one jp2h, exactly one jp2c
 * starting with SOC and SIZ whose size matches ihdr; collects its xml/asoc boxes and observation date.
 */
export function inspectFrame(src: ByteSource, name: string): MovieFrame {
  if (src.size < 12) throw corrupt(`${name}: file too short for JP2 (${src.size} bytes)`);
  if (SIGNATURE.some((v, i) => src.read(0, 12)[i] !== v)) throw corrupt(`${name}: not a JP2 file (no signature box)`);
  try {
    return inspect(src, name);
  } catch (e) {
    // Errors of the shared box and marker readers do not know the file: name it.
    if (e instanceof JpipdError && !e.message.startsWith(`${name}: `)) throw new JpipdError(e.code, `${name}: ${e.message}`);
    throw e;
  }
}

/** The body of inspectFrame once the signature is known (15444-1 I.4, I.5.3, I.5.4). */
function inspect(src: ByteSource, name: string): MovieFrame {
  const boxes = listBoxes(src, 0, src.size);
  checkJp2(src, boxes, name);
  const jp2hs = boxes.filter((b) => b.type === 'jp2h');
  if (jp2hs.length !== 1) throw corrupt(`${name}: a JP2 file needs one 'jp2h' box, found ${jp2hs.length}`);
  const jp2cs = boxes.filter((b) => b.type === 'jp2c');
  if (jp2cs.length !== 1) throw corrupt(`${name}: a movie frame needs exactly one 'jp2c' box, found ${jp2cs.length}`);
  const header = headerBoxes(src, jp2hs[0], name);
  const ihdr = src.read(header.ihdr.offset + header.ihdr.headerLength, 14);
  const jp2c = jp2cs[0];
  const codestream = { offset: jp2c.offset + jp2c.headerLength, length: jp2c.length - jp2c.headerLength };
  const size = codestreamSize(src, codestream.offset, codestream.length, name);
  // 15444-1 I.5.3.1: HEIGHT = Ysiz - YOsiz, WIDTH = Xsiz - XOsiz, NC = Csiz.
  if (be.u32(ihdr, 0) !== size.height || be.u32(ihdr, 4) !== size.width || be.u16(ihdr, 8) !== size.components) {
    throw corrupt(`${name}: 'ihdr' (${be.u32(ihdr, 4)}x${be.u32(ihdr, 0)}, ${be.u16(ihdr, 8)} components) disagrees with SIZ`);
  }
  const metadata = boxes.filter((b) => b.type === 'xml ' || b.type === 'asoc');
  const found = findDate(metadata.filter((b) => b.type === 'xml ').map((b) => xmlText(src, b)));
  return { name, jp2h: jp2hs[0], header, ...size, metadata, codestream, date: found?.key ?? null, dateText: found?.text ?? null };
}

/** The text of an xml box (UTF-8, lenient), at most MAX_DATE_SCAN bytes of it. */
function xmlText(src: ByteSource, b: BoxRef): string {
  const n = Math.min(b.length - b.headerLength, MAX_DATE_SCAN);
  return new TextDecoder('utf-8', { fatal: false }).decode(src.read(b.offset + b.headerLength, n));
}

/** The FITS keywords holding an observation date, in order of preference (Helioviewer's XML). */
export const DATE_ELEMENTS = ['DATE-OBS', 'DATE_OBS', 'T_OBS'] as const;

/** The first observation date in the XML texts (DATE-OBS, then DATE_OBS, then T_OBS), or null. */
export function findDate(texts: readonly string[]): { key: DateKey; text: string } | null {
  for (const el of DATE_ELEMENTS) {
    const re = new RegExp(`<${el}(?:\\s[^>]*)?>\\s*([^<]*?)\\s*</${el}\\s*>`);
    for (const t of texts) {
      const m = re.exec(t);
      if (!m) continue;
      const key = parseIsoDate(m[1]);
      if (key) return { key, text: m[1] };
    }
  }
  return null;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses an ISO 8601 date-time (YYYY-MM-DD, optionally Thh:mm[:ss[.fff…]] and a zone). A time
 * without a zone is UTC, as FITS dates are. Leap second 60 is accepted. Returns null when invalid.
 */
export function parseIsoDate(text: string): DateKey | null {
  const m = ISO_DATE.exec(text.trim());
  if (!m) return null;
  const [Y, M, D, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 24 || mi > 59 || s > 60) return null;
  if (h === 24 && (mi !== 0 || s !== 0)) return null;
  const check = new Date(Date.UTC(Y, M - 1, D));
  if (check.getUTCDate() !== D) return null;
  let zone = 0;
  const z = m[8];
  if (z && z.toUpperCase() !== 'Z') {
    const digits = z.replace(':', '');
    const zh = Number(digits.slice(1, 3));
    const zm = digits.length > 3 ? Number(digits.slice(3, 5)) : 0;
    if (zh > 23 || zm > 59) return null;
    zone = (z[0] === '-' ? -1 : 1) * (zh * 60 + zm) * 60000;
  }
  const frac = (m[7] ?? '').padEnd(3, '0');
  const rest = frac.slice(3);
  return { ms: Date.UTC(Y, M - 1, D, h, mi, s) - zone + Number(frac.slice(0, 3)), sub: rest === '' ? 0 : Number(`0.${rest}`) };
}

/** Compares two dates (earlier first). */
export function compareDates(a: DateKey, b: DateKey): number {
  return a.ms - b.ms || a.sub - b.sub;
}

/** Code-unit string comparison (locale-independent, so the order is the same on every machine). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last path segment of a '/'- or '\'-separated name. */
function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i < 0 ? p : p.slice(i + 1);
}

/** Items with a name and (for date sorting) a date. */
export interface Sortable {
  name: string;
  date: DateKey | null;
}

/**
 * Sorts frames by file name (the last path segment, then the whole name) or by observation date
 * (ties by name). Returns the sorted copy, or for 'date' the names of frames without a date.
 */
export function sortFrames<T extends Sortable>(frames: readonly T[], by: 'name' | 'date'): { sorted: T[]; undated: string[] } {
  const byName = (a: T, b: T): number => compareStrings(baseName(a.name), baseName(b.name)) || compareStrings(a.name, b.name);
  if (by === 'name') return { sorted: [...frames].sort(byName), undated: [] };
  const undated = frames.filter((f) => f.date === null).map((f) => f.name);
  if (undated.length) return { sorted: [], undated };
  return { sorted: [...frames].sort((a, b) => compareDates(a.date as DateKey, b.date as DateKey) || byName(a, b)), undated: [] };
}

/** Throws ERR_IMAGE_UNSUPPORTED naming the first frame whose size or component count differs from the first frame's. */
export function checkSameGeometry(frames: readonly MovieFrame[]): void {
  const f0 = frames[0];
  if (!f0) return;
  for (const f of frames) {
    if (f.width !== f0.width || f.height !== f0.height || f.components !== f0.components) {
      throw unsupported(
        `${f.name} is ${f.width}x${f.height} with ${f.components} component(s), but ${f0.name} is ${f0.width}x${f0.height} with ${f0.components}: every frame of a movie must have the same size and component count`,
      );
    }
  }
}

/** True when a path segment holds a glob wildcard (* or ?). */
export function hasWildcard(s: string): boolean {
  return /[*?]/.test(s);
}

/**
 * Compiles one glob path segment: `*` matches any run of characters, `?` one character, neither
 * matches '/'; a leading '.' must be matched literally (hidden files are not picked by wildcards).
 */
export function globSegment(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(pattern.startsWith('.') ? `^${re}$` : `^(?!\\.)${re}$`);
}

