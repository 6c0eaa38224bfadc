/**
 * Response header vocabulary (15444-9 D.2, notes §2.2): canonical capitalisation, one space after
 * the colon, and CORS on every response so browser clients can read the JPIP-* headers.
 */

/** Content type of every JPP-stream response (JHelioviewer wants exactly this string). */
export const JPP_CONTENT_TYPE = 'image/jpp-stream';

/** Every JPIP response header jpipd may send (exposed to browser scripts). */
export const JPIP_HEADERS = ['JPIP-cnew', 'JPIP-tid', 'JPIP-qid', 'JPIP-fsiz', 'JPIP-roff', 'JPIP-rsiz', 'JPIP-layers', 'JPIP-len', 'JPIP-stream', 'JPIP-comps', 'JPIP-type', 'JPIP-quality'];

/** CORS headers for every response (one shared, frozen array: replies spread it into their own). */
export const CORS_HEADERS: ReadonlyArray<readonly [string, string]> = Object.freeze([
  Object.freeze(['Access-Control-Allow-Origin', '*'] as const),
  Object.freeze(['Access-Control-Expose-Headers', JPIP_HEADERS.join(',')] as const),
]);

/** Reason phrases of the statuses jpipd sends (RFC 9110 §15). */
const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  411: 'Length Required',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Status line text for a status code. */
export const statusText = (status: number): string => STATUS_TEXT[status] ?? 'Error';
