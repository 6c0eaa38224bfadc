/**
 * JP2/JPX box structure (15444-1 Annex I, 15444-2 Annex M) and target layout: which codestreams a
 * file holds and how metadata-bin 0 is formed (notes §4.4, §4.5). Reads box headers only.
 */
import { be, checkRange, type ByteSource } from '../bytes/source.js';
import { corrupt, JpipdError, unsupported } from '../errors.js';
import { listBoxes, typeString } from './box-reader.js';
import { scanCodestream } from './codestream.js';
import { compositingLayers, linkedCodestreams } from './links.js';
import { SIZ, SOC } from './markers.js';
import type { BoxRef, CodestreamLayout, MetadataBin, MetadataItem, TargetKind, TargetLayout } from './types.js';

export { MAX_TOP_LEVEL_BOXES, listBoxes, readBoxHeader } from './box-reader.js';

/** The 12-byte JPEG 2000 signature box: LBox 12, 'jP  ', 0x0D0A870A (15444-1 I.5.1). */
const SIGNATURE = [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a];

/** Decides JP2 or JPX from the file type box (15444-1 I.5.2, 15444-2 M.11.1). */
function kindFromFtyp(src: ByteSource, ftyp: BoxRef): TargetKind {
  const n = ftyp.length - ftyp.headerLength;
  if (n < 8 || (n - 8) % 4 !== 0) throw corrupt(`'ftyp' box length ${ftyp.length}`);
  const body = src.read(ftyp.offset + ftyp.headerLength, n);
  const brand = typeString(body, 0);
  const compat: string[] = [];
  for (let p = 8; p < n; p += 4) compat.push(typeString(body, p));
  if (brand === 'jpx ') return 'jpx';
  if (brand === 'jp2 ' || brand === 'jph ') return 'jp2';
  if (compat.includes('jpx ') || compat.includes('jpxb')) return 'jpx';
  if (compat.includes('jp2 ')) return 'jp2';
  throw unsupported(`file type brand '${brand}'`);
}

/** Top-level box types whose contents get a metadata-bin of their own (metareq selects them by type). */
export const CONTENT_BOXES = new Set(['xml ', 'asoc', 'uuid', 'uinf']);

/**
 * Metadata-bin layout (notes §4.4, 15444-9 A.3.6): bin 0 holds the top-level boxes verbatim, each
 * codestream box (jp2c, or ftbl in a hyperlinked JPX, whose flst goes with it) replaced by a codestream
 * placeholder, and each content box (xml, asoc, uuid, uinf) replaced by a placeholder naming the
 * metadata-bin that holds its contents, numbered 1, 2, … in file order (as esajpip 1.9 does for asoc).
 */
function metadataOf(boxes: BoxRef[]): { metadata: MetadataItem[]; metadataBins: MetadataBin[] } {
  const items: MetadataItem[] = [];
  const bins: MetadataBin[] = [];
  let cs = 0;
  for (const b of boxes) {
    if (b.type === 'jp2c' || b.type === 'ftbl') {
      items.push({ kind: 'phld', codestream: cs++, box: b });
      continue;
    }
    if (CONTENT_BOXES.has(b.type)) {
      const bin = { id: bins.length + 1, box: b };
      bins.push(bin);
      items.push({ kind: 'meta', bin: bin.id, box: b });
      continue;
    }
    const last = items[items.length - 1];
    if (last && last.kind === 'inline' && last.offset + last.length === b.offset) last.length += b.length;
    else items.push({ kind: 'inline', offset: b.offset, length: b.length });
  }
  return { metadata: items, metadataBins: bins };
}

/**
 * Scans a target file: a raw codestream (starts with SOC, SIZ) or a JP2/JPX box file. Codestreams are
 * numbered in the physical order of top-level jp2c boxes, or of ftbl boxes in a hyperlinked JPX
 * (notes §4.5; their files are resolved and scanned by io/). Throws ERR_IMAGE_CORRUPT for bad
 * structure, ERR_IMAGE_UNSUPPORTED for unknown brands and for JPX files mixing jp2c and ftbl.
 */
export function scanTarget(src: ByteSource): TargetLayout {
  const size = src.size;
  if (size < 12) throw corrupt(`file too short for JPEG 2000 (${size} bytes)`);
  const head = src.read(0, 12);
  if (be.u16(head, 0) === SOC && be.u16(head, 2) === SIZ) {
    return { kind: 'raw', size, boxes: [], codestreams: [scanCodestream(src, 0, size)], codestreamBoxes: [null], metadata: [] };
  }
  for (let i = 0; i < SIGNATURE.length; i++) {
    if (head[i] !== SIGNATURE[i]) throw corrupt('not a JPEG 2000 file (no SOC and no JP2 signature box)');
  }
  const boxes = listBoxes(src, 0, size);
  if (boxes.length < 2 || boxes[1].type !== 'ftyp') throw corrupt("the signature box is not followed by 'ftyp'");
  const kind = kindFromFtyp(src, boxes[1]);
  if (boxes.some((b) => b.type === 'ftbl')) {
    if (kind !== 'jpx') throw corrupt("fragment tables ('ftbl') in a file that is not JPX");
    if (boxes.some((b) => b.type === 'jp2c')) throw unsupported('a JPX mixing embedded and linked codestreams');
    const links = linkedCodestreams(src, boxes);
    return { kind, size, boxes, codestreams: [], codestreamBoxes: [], links, layers: compositingLayers(src, boxes), ...metadataOf(boxes) };
  }
  const scanned: Array<CodestreamLayout | JpipdError> = [];
  const codestreamBoxes: BoxRef[] = [];
  for (const b of boxes) {
    if (b.type !== 'jp2c') continue;
    const start = b.offset + b.headerLength;
    checkRange(size, start, b.length - b.headerLength, "'jp2c' box");
    // In a JPX each codestream stands alone: one that cannot be served fails its own requests only.
    try {
      scanned.push(scanCodestream(src, start, b.offset + b.length));
    } catch (e) {
      if (kind !== 'jpx' || !(e instanceof JpipdError)) throw e;
      scanned.push(e);
    }
    codestreamBoxes.push(b);
  }
  if (scanned.length === 0) throw corrupt("no 'jp2c' codestream box");
  if (kind === 'jp2' && scanned.length !== 1) throw corrupt(`a JP2 file must have one 'jp2c' box, found ${scanned.length}`);
  const good = scanned.find((c): c is CodestreamLayout => !(c instanceof JpipdError));
  if (!good) throw scanned[0] as JpipdError;
  const codestreams = scanned.map((c, i) =>
    c instanceof JpipdError ? { ...good, broken: { code: c.code, message: `codestream ${i}: ${c.message}` }, tileParts: [], offset: codestreamBoxes[i].offset + codestreamBoxes[i].headerLength } : c,
  );
  const layers = kind === 'jpx' ? { layers: compositingLayers(src, boxes) } : {};
  return { kind, size, boxes, codestreams, codestreamBoxes, ...layers, ...metadataOf(boxes) };
}
