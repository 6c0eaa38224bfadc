/**
 * JPEG 2000 marker codes (15444-1 Table A.2; 15444-2 Table A.2; 15444-15 for CAP/CPF).
 */

/** 0xff4f // SOC: start of codestream (no segment). */
export const SOC = 0xff4f;
/** 0xff50 // CAP: extended capabilities (15444-1 Amd / 15444-15). */
export const CAP = 0xff50;
/** 0xff51 // SIZ: image and tile size. */
export const SIZ = 0xff51;
/** 0xff52 // COD: coding style default. */
export const COD = 0xff52;
/** 0xff53 // COC: coding style component. */
export const COC = 0xff53;
/** 0xff55 // TLM: tile-part lengths. */
export const TLM = 0xff55;
/** 0xff57 // PLM: packet lengths, main header. */
export const PLM = 0xff57;
/** 0xff58 // PLT: packet lengths, tile-part header. */
export const PLT = 0xff58;
/** 0xff59 // CPF: corresponding profile (15444-15). */
export const CPF = 0xff59;
/** 0xff5c // QCD: quantization default. */
export const QCD = 0xff5c;
/** 0xff5d // QCC: quantization component. */
export const QCC = 0xff5d;
/** 0xff5e // RGN: region of interest. */
export const RGN = 0xff5e;
/** 0xff5f // POC: progression order change. */
export const POC = 0xff5f;
/** 0xff60 // PPM: packed packet headers, main header. */
export const PPM = 0xff60;
/** 0xff61 // PPT: packed packet headers, tile-part header. */
export const PPT = 0xff61;
/** 0xff63 // CRG: component registration. */
export const CRG = 0xff63;
/** 0xff64 // COM: comment. */
export const COM = 0xff64;
/** 0xff70 // DCO: variable DC offset (15444-2). */
export const DCO = 0xff70;
/** 0xff72 // DFS: downsampling factor styles (15444-2; changes the decomposition structure). */
export const DFS = 0xff72;
/** 0xff73 // ADS: arbitrary decomposition styles (15444-2; changes the decomposition structure). */
export const ADS = 0xff73;
/** 0xff90 // SOT: start of tile-part. */
export const SOT = 0xff90;
/** 0xff91 // SOP: start of packet. */
export const SOP = 0xff91;
/** 0xff92 // EPH: end of packet header (no segment). */
export const EPH = 0xff92;
/** 0xff93 // SOD: start of data (no segment). */
export const SOD = 0xff93;
/** 0xffd9 // EOC: end of codestream (no segment). */
export const EOC = 0xffd9;

/** True for marker codes that carry no Lxxx segment: SOC, SOD, EOC, EPH and 0xff30..0xff3f (15444-1 A.1.4). */
export function isBareMarker(code: number): boolean {
  return code === SOC || code === SOD || code === EOC || code === EPH || (code >= 0xff30 && code <= 0xff3f);
}

/** True for 0xff30..0xff3f, reserved markers without a segment that a reader skips (15444-1 A.1.4). */
export function isReservedBare(code: number): boolean {
  return code >= 0xff30 && code <= 0xff3f;
}

/** A readable name for a marker code, e.g. 'PLT (0xff58)', for error messages. */
export function markerName(code: number): string {
  const hex = `0x${code.toString(16).padStart(4, '0')}`;
  const name = NAMES.get(code);
  return name ? `${name} (${hex})` : hex;
}

const NAMES = new Map<number, string>([
  [SOC, 'SOC'], [CAP, 'CAP'], [SIZ, 'SIZ'], [COD, 'COD'], [COC, 'COC'], [TLM, 'TLM'], [PLM, 'PLM'],
  [PLT, 'PLT'], [CPF, 'CPF'], [QCD, 'QCD'], [QCC, 'QCC'], [RGN, 'RGN'], [POC, 'POC'], [PPM, 'PPM'],
  [PPT, 'PPT'], [CRG, 'CRG'], [COM, 'COM'], [DCO, 'DCO'], [DFS, 'DFS'], [ADS, 'ADS'], [SOT, 'SOT'],
  [SOP, 'SOP'], [EPH, 'EPH'], [SOD, 'SOD'], [EOC, 'EOC'],
]);
