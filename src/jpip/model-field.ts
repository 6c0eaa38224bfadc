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
