/**
 * The one registry of jpipd error codes. Every failure carries a stable `code`; HTTP statuses are
 * chosen only at the server edge from `ERROR_STATUS`. Across threads errors travel as plain data
 * (`{ code, message }`) because structured clone drops custom classes.
 */

/** Every stable error code with its HTTP status and a one-line meaning (docs/errors.md lists them). */
export const ERROR_CODES = {
  // request syntax and semantics (jpip/)
  ERR_MALFORMED_REQUEST: { status: 400, meaning: 'a request field is malformed or out of range' },
  ERR_FIELD_UNSUPPORTED: { status: 501, meaning: 'a recognised request field asks for something jpipd does not do' },
  ERR_TYPE_UNSUPPORTED: { status: 415, meaning: 'no requested return type is one jpipd serves (it serves jpp-stream)' },
  ERR_UNKNOWN_CHANNEL: { status: 404, meaning: 'the cid names no open channel' },
  ERR_NO_TARGET: { status: 400, meaning: 'the request names no target and no channel' },
  ERR_METHOD: { status: 405, meaning: 'only GET, POST and OPTIONS are served' },
  ERR_HEAD_TOO_LARGE: { status: 431, meaning: 'the request line or head is too large' },
  ERR_BODY_TOO_LARGE: { status: 413, meaning: 'the POST body is too large' },
  ERR_LENGTH_REQUIRED: { status: 411, meaning: 'a request body must come with a Content-Length' },
  ERR_BUSY: { status: 503, meaning: 'the server is at a configured limit (sessions, queue)' },
  // targets and images (io/, j2k/, packet-index/)
  ERR_TARGET_NOT_FOUND: { status: 404, meaning: 'no such image under the image root' },
  ERR_IMAGE_UNSUPPORTED: { status: 415, meaning: 'the image uses a feature outside the served profile' },
  ERR_IMAGE_CORRUPT: { status: 415, meaning: 'the image is malformed (bad box, marker or length)' },
  ERR_IMAGE_LIMIT: { status: 415, meaning: 'the image exceeds a safety bound (size, tiles, packets)' },
  ERR_IO: { status: 500, meaning: 'reading the image failed' },
  ERR_TARGET_CHANGED: { status: 410, meaning: 'the image file changed since the channel opened it; open a new channel' },
  ERR_INDEX_BUDGET: { status: 503, meaning: 'the index memory budget cannot hold this image now' },
  // anything else
  ERR_INTERNAL: { status: 500, meaning: 'an internal error' },
} as const;

/** A stable jpipd error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The plain-data form of an error, safe to post between threads. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
}

/** An error with a stable code; `message` is one line and never contains an absolute server path. */
export class JpipdError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'JpipdError';
    this.code = code;
  }
  /** Plain data for postMessage. */
  toData(): ErrorData {
    return { code: this.code, message: this.message };
  }
}

/**
 * Codes that belong to the image itself (malformed, outside the profile, beyond a bound), not to a
 * request or the machine: what is remembered per file version or per index instead of retried.
 */
export function isImageFault(code: string): boolean {
  return code === 'ERR_IMAGE_CORRUPT' || code === 'ERR_IMAGE_UNSUPPORTED' || code === 'ERR_IMAGE_LIMIT';
}

/** Shorthand constructors, one per family, so call sites read as what went wrong. */
export const malformed = (m: string): JpipdError => new JpipdError('ERR_MALFORMED_REQUEST', m);
export const corrupt = (m: string): JpipdError => new JpipdError('ERR_IMAGE_CORRUPT', m);
export const unsupported = (m: string): JpipdError => new JpipdError('ERR_IMAGE_UNSUPPORTED', `unsupported: ${m}`);
export const overLimit = (m: string): JpipdError => new JpipdError('ERR_IMAGE_LIMIT', m);

/** Turns anything thrown into plain error data (unknown throwables become ERR_INTERNAL). */
export function toErrorData(e: unknown): ErrorData {
  if (e instanceof JpipdError) return e.toData();
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const code = (e as { code: string }).code;
    if (code in ERROR_CODES) return { code: code as ErrorCode, message: String((e as unknown as Error).message) };
    if (code === 'ENOENT' || code === 'ENOTDIR') return { code: 'ERR_TARGET_NOT_FOUND', message: 'no such image' };
    if (code.startsWith('E')) return { code: 'ERR_IO', message: `read failed (${code})` };
  }
  return { code: 'ERR_INTERNAL', message: 'internal error' };
}

/** Plain error data from a code string read back from storage (unknown codes become ERR_INTERNAL). */
export function errorData(code: string, message: string): ErrorData {
  return { code: code in ERROR_CODES ? (code as ErrorCode) : 'ERR_INTERNAL', message };
}

/** Rebuilds a JpipdError from plain data received from another thread. */
export function fromErrorData(d: ErrorData): JpipdError {
  return new JpipdError(d.code in ERROR_CODES ? d.code : 'ERR_INTERNAL', d.message);
}
