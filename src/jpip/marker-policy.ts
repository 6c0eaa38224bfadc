/**
 * Marker codes the JPIP layer treats specially when it forms header data-bins (notes §4.1, §4.2).
 * Kept apart from j2k/markers so the serving policy is visible in one place.
 */

/** 0xff55 // TLM: tile-part lengths (file layout, not sent). */
export const TLM = 0xff55;
/** 0xff57 // PLM: packet lengths, main header (file layout, not sent). */
export const PLM = 0xff57;
/** 0xff58 // PLT: packet lengths, tile-part header (file layout, not sent). */
export const PLT = 0xff58;
/** 0xff60 // PPM: packed packet headers, main header (served inside the precinct data-bins instead). */
export const PPM = 0xff60;
/** 0xff61 // PPT: packed packet headers, tile-part header (served inside the precinct data-bins instead). */
export const PPT = 0xff61;
