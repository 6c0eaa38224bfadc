/**
 * JPIP request parsing (15444-9 C.1–C.10): a query string (and optional POST form body) into a
 * validated, bounded `JpipRequest`. Pure: no HTTP, no I/O, no state carried between requests.
 * Policy: strict — every recognised field is validated and anything malformed throws
 * `malformed('<field>: <reason>')`; unknown fields are listed in `unknown` and otherwise ignored.
 */
import { malformed } from '../errors.js';
import { parseMetareq, type MetaReq } from './metareq.js';
import { parseModel, type ModelItem } from './model-field.js';
import {
  MAX_LIST_ITEMS,
  UINT32_MAX,
  UINT53_MAX,
  excerpt,
  parseSampledRanges,
  parseUint,
  parseUintRanges,
  splitList,
  uintIn,
  type SampledRange,
  type UintRange,
} from './ranges.js';

export type { UintRange, SampledRange } from './ranges.js';
export type { MetaReq } from './metareq.js';
export type { ModelItem } from './model-field.js';

/** fsiz round-direction (15444-9 C.4.2); the default is round-down. */
export type Round = 'round-down' | 'round-up' | 'closest';

/** One codestream context (15444-9 C.4.7): JPX compositing layers or an MJ2 track. */
export type ContextRange =
  | { kind: 'jpxl'; layers: SampledRange[]; remap?: { set: number; index: number } }
  | { kind: 'mj2t'; track: number; now: boolean };

/** A parsed JPIP request; optional fields are absent when the request did not give them. */
export interface JpipRequest {
  target?: string;
  subtarget?: string;
  tid?: string;
  cid?: string;
  /** Transports listed, lower-cased, e.g. ['http-tcp','http']. */
  cnew?: string[];
  cclose?: string[] | '*';
  qid?: number;
  /**
   * accepted = some listed type is jpp-stream (or image/jpp-stream) without ptype=ext; first = that
   * type is the client's first preference; types as given.
   */
  type?: { accepted: boolean; first: boolean; types: string[] };
  fsiz?: { fx: number; fy: number; round: Round; roundGiven: boolean };
  roff?: { x: number; y: number };
  rsiz?: { x: number; y: number };
  comps?: UintRange[];
  stream?: SampledRange[];
  context?: ContextRange[];
  layers?: number;
  len?: number;
  quality?: number;
  srate?: number;
  drate?: number;
  metareq?: MetaReq;
  model?: ModelItem[];
  need?: string;
  tpmodel?: string;
  tpneed?: string;
  mset?: SampledRange[];
  wait?: boolean;
  align?: boolean;
  handled?: boolean;
  pref?: string;
  cap?: string;
  roi?: string;
  unknown: string[];
}

/** Most fields (query plus body, duplicates included) one request may carry. */
export const MAX_FIELDS = 64;
/** Longest decoded value of an ordinary field. */
export const MAX_VALUE = 16 * 1024;
/** Longest decoded value of `model` and `need`. */
export const MAX_MODEL_VALUE = 1024 * 1024;

const BIG_FIELDS = new Set(['model', 'need']);
const TOKEN = /^[A-Za-z0-9._~-]{1,255}$/;
const TRANSPORT = /^[a-z0-9-]{1,64}$/;
const MEDIA_ITEM = /^[A-Za-z0-9!#$&^_.+-]+(?:\/[A-Za-z0-9!#$&^_.+-]+)?(?:;[A-Za-z0-9_.-]+=[A-Za-z0-9!#$&^_.+-]+)*$/;
const DECIMAL = /^[0-9]{1,15}(?:\.[0-9]{1,15})?$/;
const CONTROL = /[\x00-\x1f\x7f]/;
const ROUNDS: readonly Round[] = ['round-down', 'round-up', 'closest'];

type Setter = (r: JpipRequest, v: string) => void;

// 15444-9 C.2–C.10: one validator per recognised field.
const FIELDS: Record<string, Setter> = {
  target: (r, v) => (r.target = parseTarget(v)),
  subtarget: (r, v) => (r.subtarget = nonEmpty(v, 'subtarget')),
  tid: (r, v) => (r.tid = token(v, 'tid')),
  cid: (r, v) => (r.cid = token(v, 'cid')),
  cnew: (r, v) => (r.cnew = parseCnew(v)),
  cclose: (r, v) => (r.cclose = v === '*' ? '*' : splitList(v, 'cclose').map((c) => token(c, 'cclose'))),
  qid: (r, v) => (r.qid = parseUint(v, 'qid', UINT32_MAX)),
  type: (r, v) => (r.type = parseType(v)),
  fsiz: (r, v) => (r.fsiz = parseFsiz(v)),
  roff: (r, v) => (r.roff = parsePair(v, 'roff', 0)),
  rsiz: (r, v) => (r.rsiz = parsePair(v, 'rsiz', 1)),
  comps: (r, v) => (r.comps = parseUintRanges(v, 'comps')),
  stream: (r, v) => (r.stream = parseSampledRanges(v, 'stream')),
  context: (r, v) => (r.context = parseContext(v)),
  layers: (r, v) => (r.layers = parseUint(v, 'layers', 65535)),
  len: (r, v) => (r.len = parseUint(v, 'len', UINT53_MAX)),
  quality: (r, v) => (r.quality = parseUint(v, 'quality', 100)),
  srate: (r, v) => (r.srate = parseDecimal(v, 'srate')),
  drate: (r, v) => (r.drate = parseDecimal(v, 'drate')),
  metareq: (r, v) => (r.metareq = parseMetareq(v)),
  model: (r, v) => (r.model = parseModel(v)),
  need: (r, v) => (r.need = nonEmpty(v, 'need')),
  tpmodel: (r, v) => (r.tpmodel = nonEmpty(v, 'tpmodel')),
  tpneed: (r, v) => (r.tpneed = nonEmpty(v, 'tpneed')),
  mset: (r, v) => (r.mset = parseSampledRanges(v, 'mset')),
  wait: (r, v) => (r.wait = yesNo(v, 'wait')),
  align: (r, v) => (r.align = yesNo(v, 'align')),
  handled: (r, v) => (r.handled = parseFlag(v, 'handled')),
  pref: (r, v) => (r.pref = nonEmpty(v, 'pref')),
  cap: (r, v) => (r.cap = nonEmpty(v, 'cap')),
  roi: (r, v) => (r.roi = nonEmpty(v, 'roi')),
};

/**
 * Parses a JPIP query string (without '?') and an optional POST form body (body fields after query
 * fields; a duplicated field keeps its last value). Throws ERR_MALFORMED_REQUEST (or
 * ERR_FIELD_UNSUPPORTED for implicit model descriptors).
 */
export function parseRequest(query: string, body?: string): JpipRequest {
  const fields: Fields = { names: [], values: [], unknown: [], count: 0 };
  splitFields(query, fields);
  if (body !== undefined) splitFields(body, fields);
  const req: JpipRequest = { unknown: fields.unknown };
  const { names, values } = fields;
  for (let i = 0; i < names.length; i++) (SETTERS.get(names[i]) as Setter)(req, decodeValue(names[i], values[i]));
  if ((req.roff || req.rsiz) && !req.fsiz) throw malformed(`${req.roff ? 'roff' : 'rsiz'}: requires fsiz`);
  return req;
}

/** Recognised fields in order of first appearance (a repeated one keeps its last value), and the rest. */
interface Fields {
  names: string[];
  values: string[];
  unknown: string[];
  count: number;
}

/** The setters by name (a Map: request field names are sliced strings, slow keys for an object). */
const SETTERS = new Map(Object.entries(FIELDS));

// 15444-9 C.1: fields split on '&', then on the first '='; empty segments are skipped.
function splitFields(src: string, f: Fields): void {
  let start = 0;
  while (start <= src.length) {
    let end = src.indexOf('&', start);
    if (end < 0) end = src.length;
    if (end > start) {
      if (++f.count > MAX_FIELDS) throw malformed(`request: more than ${MAX_FIELDS} fields`);
      let eq = src.indexOf('=', start);
      if (eq < 0 || eq > end) eq = end;
      const name = src.slice(start, eq);
      const value = eq < end ? src.slice(eq + 1, end) : '';
      if (SETTERS.has(name)) {
        const at = f.names.indexOf(name);
        if (at < 0) {
          f.names.push(name);
          f.values.push(value);
        } else f.values[at] = value;
      } else {
        const shown = name.slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
        if (!f.unknown.includes(shown)) f.unknown.push(shown);
      }
    }
    start = end + 1;
  }
}

// Percent-decodes one value after splitting ('+' is not a space in JPIP) and bounds its length.
function decodeValue(name: string, value: string): string {
  const limit = BIG_FIELDS.has(name) ? MAX_MODEL_VALUE : MAX_VALUE;
  if (value.length > 3 * limit) throw malformed(`${name}: value longer than ${limit} bytes`);
  // Plain printable text without escapes (nearly every value) is returned as it is.
  let plain = value.length <= limit;
  for (let i = 0; plain && i < value.length; i++) {
    const c = value.charCodeAt(i);
    plain = c >= 0x20 && c !== 0x25 && c !== 0x7f;
  }
  if (plain) return value;
  let v = value;
  if (value.includes('%')) {
    try {
      v = decodeURIComponent(value);
    } catch {
      throw malformed(`${name}: bad percent-encoding in ${excerpt(value)}`);
    }
  }
  if (v.length > limit) throw malformed(`${name}: value longer than ${limit} bytes`);
  if (CONTROL.test(v)) throw malformed(`${name}: control character in value`);
  return v;
}

function nonEmpty(v: string, what: string): string {
  if (v === '') throw malformed(`${what}: empty value`);
  return v;
}

// 15444-9 C.2.1: the target may be any name; path safety is io/paths.ts's job.
function parseTarget(v: string): string {
  if (v.length < 1 || v.length > 1024) throw malformed('target: length must be 1..1024');
  return v;
}

// 15444-9 C.2.3 / C.3: tid and cid tokens.
function token(v: string, what: string): string {
  if (!TOKEN.test(v)) throw malformed(`${what}: expected 1..255 of [A-Za-z0-9._~-], got ${excerpt(v)}`);
  return v;
}

// 15444-9 C.3.3: cnew = 1#transport-name.
function parseCnew(v: string): string[] {
  return splitList(v.toLowerCase(), 'cnew').map((t) => {
    if (!TRANSPORT.test(t)) throw malformed(`cnew: bad transport ${excerpt(t)}`);
    return t;
  });
}

// 15444-9 C.7.3: type = 1#image-return-type; JPP is acceptable unless ptype=ext is asked for.
function parseType(v: string): { accepted: boolean; first: boolean; types: string[] } {
  const types = splitList(v, 'type');
  let accepted = false;
  let first = false;
  types.forEach((t, i) => {
    if (!MEDIA_ITEM.test(t)) throw malformed(`type: bad return type ${excerpt(t)}`);
    const [base, ...params] = t.toLowerCase().split(';');
    const ext = params.some((p) => p === 'ptype=ext');
    if ((base === 'jpp-stream' || base === 'image/jpp-stream') && !ext) {
      if (!accepted && i === 0) first = true;
      accepted = true;
    }
  });
  return { accepted, first, types };
}

// 15444-9 C.4.2: fsiz = fx "," fy [ "," round-direction ].
function parseFsiz(v: string): { fx: number; fy: number; round: Round; roundGiven: boolean } {
  const c1 = v.indexOf(',');
  const c2 = c1 < 0 ? -1 : v.indexOf(',', c1 + 1);
  if (c1 < 0 || (c2 >= 0 && v.indexOf(',', c2 + 1) >= 0)) throw malformed(`fsiz: expected fx,fy[,round], got ${excerpt(v)}`);
  const end = c2 < 0 ? v.length : c2;
  const fx = uintAt(v, 0, c1, 'fsiz');
  const fy = uintAt(v, c1 + 1, end, 'fsiz');
  if (fx < 1 || fy < 1) throw malformed('fsiz: sizes must be ≥ 1');
  if (c2 < 0) return { fx, fy, round: 'round-down', roundGiven: false };
  const given = v.slice(c2 + 1);
  const round = ROUNDS.find((r) => r === given);
  if (!round) throw malformed(`fsiz: bad round direction ${excerpt(given)}`);
  return { fx, fy, round, roundGiven: true };
}

// 15444-9 C.4.3 / C.4.4: roff = ox "," oy; rsiz = sx "," sy (sizes ≥ 1).
function parsePair(v: string, what: string, min: number): { x: number; y: number } {
  const c = v.indexOf(',');
  if (c < 0 || v.indexOf(',', c + 1) >= 0) throw malformed(`${what}: expected two numbers, got ${excerpt(v)}`);
  const x = uintAt(v, 0, c, what);
  const y = uintAt(v, c + 1, v.length, what);
  if (x < min || y < min) throw malformed(`${what}: values must be ≥ ${min}`);
  return { x, y };
}

/** A 32-bit number at v[from, to), parsed in place; the error names the field as parseUint does. */
function uintAt(v: string, from: number, to: number, what: string): number {
  const n = uintIn(v, from, to, UINT32_MAX);
  return n >= 0 ? n : parseUint(v.slice(from, to), what, UINT32_MAX);
}

// 15444-9 C.4.9 / C.4.10: srate, drate — non-negative decimals, no sign or exponent.
function parseDecimal(v: string, what: string): number {
  if (!DECIMAL.test(v)) throw malformed(`${what}: expected a non-negative decimal, got ${excerpt(v)}`);
  return Number(v);
}

function yesNo(v: string, what: string): boolean {
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw malformed(`${what}: expected yes or no, got ${excerpt(v)}`);
}

// `handled` is a flag; an explicit yes/no is also accepted.
function parseFlag(v: string, what: string): boolean {
  return v === '' ? true : yesNo(v, what);
}

const JPXL = /^jpxl<([^<>]+)>(?:\[s([0-9]+)i([0-9]+)\])?$/;
const MJ2T = /^mj2t<([0-9]+)(\+now)?>(?:\[(?:track|movie)\])?$/;

// 15444-9 C.4.7: context = 1#context-range; jpxl and mj2t forms only.
function parseContext(v: string): ContextRange[] {
  const out: ContextRange[] = [];
  for (const item of splitContext(v)) {
    const j = JPXL.exec(item);
    if (j) {
      const c: ContextRange = { kind: 'jpxl', layers: parseSampledRanges(j[1], 'context') };
      if (j[2] !== undefined) c.remap = { set: parseUint(j[2], 'context', UINT32_MAX), index: parseUint(j[3], 'context', UINT32_MAX) };
      out.push(c);
      continue;
    }
    const m = MJ2T.exec(item);
    if (m) {
      out.push({ kind: 'mj2t', track: parseUint(m[1], 'context', UINT32_MAX), now: m[2] !== undefined });
      continue;
    }
    throw malformed(`context: unsupported context range ${excerpt(item)}`);
  }
  return out;
}

// Splits on commas outside <...> and [...], so jpxl<0-3,5> stays one item.
function splitContext(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= v.length; i++) {
    const ch = v.charAt(i);
    if (ch === '<' || ch === '[') depth++;
    else if (ch === '>' || ch === ']') depth--;
    else if (i === v.length || (ch === ',' && depth === 0)) {
      if (i === start) throw malformed('context: empty item');
      out.push(v.slice(start, i));
      if (out.length > MAX_LIST_ITEMS) throw malformed(`context: more than ${MAX_LIST_ITEMS} items`);
      start = i + 1;
    }
    if (depth < 0 || depth > 2) throw malformed(`context: unbalanced brackets in ${excerpt(v)}`);
  }
  if (depth !== 0) throw malformed(`context: unbalanced brackets in ${excerpt(v)}`);
  return out;
}
