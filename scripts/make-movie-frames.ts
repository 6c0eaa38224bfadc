/**
 * Builds test/fixtures/movie-frames/: three 128×128 grey JP2 frames for `jpipd movie`, made from the
 * codestreams of frames3-128.jpx, each with a Helioviewer-like FITS XML box. Their names sort in a
 * different order from their dates, and each spells the date differently:
 *   aia_0001.jp2  DATE-OBS 2014-01-01T00:02:00.34   xml before jp2c
 *   aia_0002.jp2  DATE_OBS 2014-01-01T00:00:00.34   xml before jp2c, plus an asoc (lbl + xml)
 *   aia_0003.jp2  T_OBS    2014-01-01T00:01:00.35Z  a second xml before jp2c, the FITS xml after it
 * Usage: node --import tsx scripts/make-movie-frames.ts <frames3-128.jpx> <out-dir>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../src/bytes/source.js';
import { listBoxes } from '../src/j2k/boxes.js';
import { box, colrBox, concatBytes, ftypBox, ihdrBox, lblBox, signatureBox, xmlBox } from '../src/j2k/box-writer.js';

const GREY = 17;
const [jpxPath, outDir] = process.argv.slice(2);
if (!jpxPath || !outDir) {
  console.error('usage: make-movie-frames.ts <frames3-128.jpx> <out-dir>');
  process.exit(2);
}

const jpx = new Uint8Array(readFileSync(jpxPath));
const codestreams = listBoxes(new BufferSource(jpx), 0, jpx.length)
  .filter((b) => b.type === 'jp2c')
  .map((b) => jpx.subarray(b.offset + b.headerLength, b.offset + b.length));
if (codestreams.length !== 3) throw new Error(`expected 3 codestreams in ${jpxPath}, found ${codestreams.length}`);

/** Helioviewer's JP2 XML: <meta><fits>…</fits><helioviewer>…</helioviewer></meta>. */
const fits = (dateLine: string, wave: number): string =>
  `<?xml version="1.0" encoding="utf-8"?>\n<meta><fits><SIMPLE>1</SIMPLE><NAXIS1>128</NAXIS1><NAXIS2>128</NAXIS2>` +
  `<TELESCOP>SDO/AIA</TELESCOP><INSTRUME>AIA_3</INSTRUME>${dateLine}<WAVELNTH>${wave}</WAVELNTH></fits>` +
  `<helioviewer><HV_ROTATION>0.0</HV_ROTATION><HV_COMMENT>jpipd test frame</HV_COMMENT></helioviewer></meta>`;

const head = concatBytes(signatureBox(), ftypBox('jp2 ', 0, ['jp2 ']), box('jp2h', ihdrBox(128, 128, 1, 8), colrBox(GREY)));
const frames: Array<[string, Uint8Array]> = [
  ['aia_0001.jp2', concatBytes(head, xmlBox(fits('<DATE-OBS>2014-01-01T00:02:00.34</DATE-OBS>', 171)), box('jp2c', codestreams[0]))],
  [
    'aia_0002.jp2',
    concatBytes(
      head,
      xmlBox(fits('<DATE_OBS>2014-01-01T00:00:00.34</DATE_OBS>', 171)),
      box('asoc', lblBox('jpipd'), xmlBox('<note>an association box of the frame</note>')),
      box('jp2c', codestreams[1]),
    ),
  ],
  [
    'aia_0003.jp2',
    concatBytes(head, xmlBox('<?xml version="1.0"?><extra>second xml box</extra>'), box('jp2c', codestreams[2]), xmlBox(fits('<T_OBS>2014-01-01T00:01:00.35Z</T_OBS>', 171))),
  ],
];
mkdirSync(outDir, { recursive: true });
for (const [name, bytes] of frames) {
  writeFileSync(join(outDir, name), bytes);
  console.log(`  movie-frames/${name}`);
}
