/**
 * The `model` (and `need`) request field with explicit bin descriptors (15444-9 C.9): a comma list of
 * codestream qualifiers `[a]`, `[a-b]` and descriptors `Hm`, `H<t>`, `T<t>`, `P<id>`, `M<id>` (`*`
 * for any id), each with an optional `:<bytes>` or `:L<layers>` and an optional leading `-`
 * (subtractive). Implicit descriptors (tile/component/resolution/position ranges) are not served.
 */
import { JpipdError, malformed } from '../errors.js';
import { UINT53_MAX, excerpt, parseUint, parseUintRange, type UintRange } from './ranges.js';

/** Data-bin kind named by a descriptor: Hm, H, T, P, M. */
export type ModelBin = 'main' | 'tile' | 'tile-jpt' | 'precinct' | 'meta';

/** One explicit bin descriptor with the codestream qualifier in force when it was read. */
export interface ModelItem {
  /** Qualifier in force; default [{from:0,to:0}]. Items after one qualifier share this array. */
  codestreams: UintRange[];
  bin: ModelBin;
  /** In-class id; 0 for `Hm`; '*' = every bin of the class. */
  id: number | '*';
  subtractive: boolean;
  /** `:<n>`: the client holds only the first n bytes (absent = complete). */
  bytes?: number;
  /** `:L<n>`: the client holds the first n quality layers (P and T only). */
  layers?: number;
}

/** Most descriptors one model field may hold (a 1 MiB field of short items stays below it). */
export const MAX_MODEL_ITEMS = 262144;
/** Most ranges one codestream qualifier may hold. */
export const MAX_QUALIFIER_RANGES = 64;

const ITEM = /^(-?)(Hm|[HTPM](?:[0-9]+|\*))(?::(L?)([0-9]+))?$/;
const KIND: Record<string, ModelBin> = { H: 'tile', T: 'tile-jpt', P: 'precinct', M: 'meta' };

/** Parses a percent-decoded `model`/`need` value; `what` names the field in errors. */
export function parseModel(v: string, what = 'model'): ModelItem[] {
  if (v === '') throw malformed(`${what}: empty`);
  // Most models are long lists of plain descriptors (P123,P124:400,…) without qualifiers: one pass
  // over the characters, no regular expression per item (100,000 items in a few ms, not ~70 ms
  // on a front-end thread); anything else takes the general path below.
  if (v.indexOf('[') < 0 && v.indexOf(']') < 0) return parsePlain(v, what);
  let qualifier: UintRange[] = [{ from: 0, to: 0 }];
  const items: ModelItem[] = [];
  for (const tok of splitTopLevel(v, what)) {
    if (tok.startsWith('[')) {
      qualifier = parseQualifier(tok, what);
      continue;
    }
    if (items.length >= MAX_MODEL_ITEMS) throw malformed(`${what}: more than ${MAX_MODEL_ITEMS} descriptors`);
    items.push(parseItem(tok, qualifier, what));
  }
  return items;
}

/** The default qualifier (codestream 0), shared by the items of a model without qualifiers. */
const CODESTREAM_0: UintRange[] = [{ from: 0, to: 0 }];

/** parseModel for a value without codestream qualifiers: a comma list of descriptors. */
function parsePlain(v: string, what: string): ModelItem[] {
  // Like the general path, an empty item anywhere is reported before any item is read.
  if (v.charCodeAt(0) === 44 || v.charCodeAt(v.length - 1) === 44 || v.includes(',,')) throw malformed(`${what}: empty item`);
  const items: ModelItem[] = [];
  const n = v.length;
  let i = 0;
  for (;;) {
    let j = v.indexOf(',', i);
    if (j < 0) j = n;
    if (j === i) throw malformed(`${what}: empty item`);
    if (items.length >= MAX_MODEL_ITEMS) throw malformed(`${what}: more than ${MAX_MODEL_ITEMS} descriptors`);
    items.push(plainItem(v, i, j) ?? parseItem(v.slice(i, j), CODESTREAM_0, what));
    if (j === n) return items;
    i = j + 1;
  }
}

/** A descriptor -?[HPMT]<digits>(:L?<digits>)? read from v[i, j) without allocating, or null (take the general path). */
function plainItem(v: string, i: number, j: number): ModelItem | null {
  let k = i;
  const minus = v.charCodeAt(k) === 45; // '-'
  if (minus) k++;
  const c = v.charCodeAt(k++);
  const bin: ModelBin | undefined = c === 80 ? 'precinct' : c === 72 ? 'tile' : c === 77 ? 'meta' : c === 84 ? 'tile-jpt' : undefined;
  if (bin === undefined) return null;
  let id = 0;
  const start = k;
  while (k < j) {
    const d = v.charCodeAt(k) - 48;
    if (d < 0 || d > 9) break;
    id = id * 10 + d;
    k++;
  }
  // No digits (Hm, P*), a leading zero run longer than one digit, or too many digits: general path.
  if (k === start || k - start > 15 || (v.charCodeAt(start) === 48 && k - start > 1)) return null;
  const item: ModelItem = { codestreams: CODESTREAM_0, bin, id, subtractive: minus };
  if (k === j) return item;
  if (v.charCodeAt(k) !== 58 || bin === 'meta' || bin === 'tile') return null; // ':' amounts: general path for the rarer forms
  k++;
  if (v.charCodeAt(k) === 76) return null; // ':L' layers: general path
  let amount = 0;
  const a0 = k;
  while (k < j) {
    const d = v.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return null;
    amount = amount * 10 + d;
    k++;
  }
  if (k === a0 || k - a0 > 15) return null;
  item.bytes = amount;
  return item;
}

// 15444-9 C.9.2 codestream-qualifier: "[" ranges "]" (';' or ',' between ranges).
function parseQualifier(tok: string, what: string): UintRange[] {
  if (!tok.endsWith(']') || tok.length < 3) throw malformed(`${what}: bad codestream qualifier ${excerpt(tok)}`);
  const parts = tok.slice(1, -1).split(/[;,]/);
  if (parts.length > MAX_QUALIFIER_RANGES) throw malformed(`${what}: codestream qualifier too long`);
  return parts.map((p) => parseUintRange(p, what));
}

// 15444-9 C.9.2 explicit bin-descriptor.
function parseItem(tok: string, codestreams: UintRange[], what: string): ModelItem {
  const m = ITEM.exec(tok);
  if (!m) {
    if (/^-?[tcrp]/.test(tok)) throw new JpipdError('ERR_FIELD_UNSUPPORTED', `${what}: implicit descriptors`);
    throw malformed(`${what}: bad descriptor ${excerpt(tok)}`);
  }
  const [, minus, name, layerMark, amount] = m;
  const bin: ModelBin = name === 'Hm' ? 'main' : KIND[name[0]];
  const rawId = name === 'Hm' ? '0' : name.slice(1);
  const id = rawId === '*' ? '*' : parseUint(rawId, what, UINT53_MAX, 'bin id');
  const item: ModelItem = { codestreams, bin, id, subtractive: minus === '-' };
  if (amount !== undefined) {
    if (layerMark === 'L') {
      if (bin !== 'precinct' && bin !== 'tile-jpt') throw malformed(`${what}: ':L' only applies to P and T descriptors`);
      item.layers = parseUint(amount, what, 65535, 'layers');
    } else {
      item.bytes = parseUint(amount, what, UINT53_MAX, 'bytes');
    }
  }
  return item;
}

// Splits on commas outside brackets, so a qualifier may list ranges with commas.
function splitTopLevel(v: string, what: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= v.length; i++) {
    const ch = v.charAt(i);
    if (ch === '[') {
      if (depth++ > 0) throw malformed(`${what}: nested '['`);
    } else if (ch === ']') {
      if (--depth < 0) throw malformed(`${what}: unbalanced ']'`);
    } else if (i === v.length || (ch === ',' && depth === 0)) {
      if (i === start) throw malformed(`${what}: empty item`);
      out.push(v.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw malformed(`${what}: unbalanced '['`);
  return out;
}
