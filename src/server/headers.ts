/**
 * Response header vocabulary (15444-9 D.2, notes §2.2): canonical capitalisation, one space after
 * the colon, and CORS on every response so browser clients can read the JPIP-* headers.
 */

/** Content type of every JPP-stream response (JHelioviewer wants exactly this string). */
export const JPP_CONTENT_TYPE = 'image/jpp-stream';

/** Every JPIP response header jpipd may send (exposed to browser scripts). */
export const JPIP_HEADERS = ['JPIP-cnew', 'JPIP-tid', 'JPIP-qid', 'JPIP-fsiz', 'JPIP-roff', 'JPIP-rsiz', 'JPIP-layers', 'JPIP-len', 'JPIP-stream', 'JPIP-comps'];

/** CORS headers for every response. */
export function corsHeaders(): Array<[string, string]> {
  return [
    ['Access-Control-Allow-Origin', '*'],
    ['Access-Control-Expose-Headers', JPIP_HEADERS.join(',')],
  ];
}
