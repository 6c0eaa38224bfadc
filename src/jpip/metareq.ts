/**
 * The `metareq` request field (15444-9 C.5.2): which metadata boxes the client wants.
 *   metareq      = 1#( "[" 1$(req-box-prop) "]" [ "R" root-bin ] [ "D" max-depth ] ) [ "!!" ]
 *   req-box-prop = box-type [ ":" ( limit / "r" ) ] [ "/" 1*( "w" / "s" / "g" / "a" ) ] [ "!" ]
 * The value arrives percent-decoded; in a box type '_' stands for a space (Kakadu writes `xml_`).
 */
import { malformed } from '../errors.js';
import { MAX_LIST_ITEMS, UINT32_MAX, UINT53_MAX, excerpt, parseUint } from './ranges.js';

/** One requested box property. */
export interface BoxProp {
  type: string /* 4 chars or '*' */;
  /** Only the first `limit` bytes of each matching box body are wanted. */
  limit?: number;
  /** `:r`: descend into matching superboxes. */
  recurse: boolean;
  /** Letters from w (window), s (stream), g (global), a (all); 'wsg' when not given (the default). */
  scope: string;
  /** `!`: send these boxes before image data. */
  priority: boolean;
}

/** One `[...]` group with its optional root bin (`R`) and maximum depth (`D`). */
export interface MetaReqGroup {
  props: BoxProp[];
  root?: number;
  maxDepth?: number;
}

/** A parsed `metareq` field; `metadataOnly` is the trailing `!!`. */
export interface MetaReq {
  groups: MetaReqGroup[];
  metadataOnly: boolean;
}

/** Scope used when a box-prop carries no `/` qualifier (window, stream and global). */
export const DEFAULT_METAREQ_SCOPE = 'wsg';

const F = 'metareq';

/** Parses a percent-decoded `metareq` value; throws malformed on any syntax error. */
export function parseMetareq(v: string): MetaReq {
  const c = new Cursor(v);
  const groups: MetaReqGroup[] = [];
  let props = 0;
  for (;;) {
    const g = parseGroup(c);
    props += g.props.length;
    if (groups.length >= MAX_LIST_ITEMS || props > MAX_LIST_ITEMS) throw malformed(`${F}: too many box properties`);
    groups.push(g);
    if (c.peek() !== ',') break;
    c.pos++;
  }
  let metadataOnly = false;
  if (c.rest() === '!!') {
    metadataOnly = true;
    c.pos += 2;
  }
  if (!c.done()) throw malformed(`${F}: unexpected ${excerpt(c.rest())}`);
  return { groups, metadataOnly };
}

// 15444-9 C.5.2: one bracketed group plus its root-bin and max-depth suffixes.
function parseGroup(c: Cursor): MetaReqGroup {
  c.expect('[');
  const props: BoxProp[] = [];
  for (;;) {
    props.push(parseBoxProp(c));
    if (props.length > MAX_LIST_ITEMS) throw malformed(`${F}: too many box properties`);
    const ch = c.take();
    if (ch === ']') break;
    if (ch !== ';') throw malformed(`${F}: expected ';' or ']' in ${excerpt(c.src)}`);
  }
  const g: MetaReqGroup = { props };
  if (c.peek() === 'R') {
    c.pos++;
    g.root = parseUint(c.digits(), F, UINT53_MAX, 'root bin');
  }
  if (c.peek() === 'D') {
    c.pos++;
    g.maxDepth = parseUint(c.digits(), F, UINT32_MAX, 'max depth');
  }
  return g;
}

// 15444-9 C.5.2 req-box-prop.
function parseBoxProp(c: Cursor): BoxProp {
  let type: string;
  if (c.peek() === '*') {
    type = '*';
    c.pos++;
  } else {
    const raw = c.src.slice(c.pos, c.pos + 4);
    if (raw.length !== 4 || /[^\x20-\x7e]/.test(raw)) throw malformed(`${F}: bad box type ${excerpt(raw)}`);
    type = raw.replace(/_/g, ' ');
    c.pos += 4;
  }
  const p: BoxProp = { type, recurse: false, scope: DEFAULT_METAREQ_SCOPE, priority: false };
  if (c.peek() === ':') {
    c.pos++;
    if (c.peek() === 'r') {
      c.pos++;
      p.recurse = true;
    } else {
      p.limit = parseUint(c.digits(), F, UINT32_MAX, 'limit');
    }
  }
  if (c.peek() === '/') {
    c.pos++;
    const start = c.pos;
    while (/^[wsga]$/.test(c.peek())) c.pos++;
    if (c.pos === start) throw malformed(`${F}: empty '/' qualifier`);
    p.scope = c.src.slice(start, c.pos);
  }
  if (c.peek() === '!') {
    c.pos++;
    p.priority = true;
  }
  return p;
}

class Cursor {
  pos = 0;
  constructor(readonly src: string) {}
  peek(): string {
    return this.src.charAt(this.pos);
  }
  take(): string {
    return this.src.charAt(this.pos++);
  }
  done(): boolean {
    return this.pos >= this.src.length;
  }
  rest(): string {
    return this.src.slice(this.pos);
  }
  expect(ch: string): void {
    if (this.take() !== ch) throw malformed(`${F}: expected '${ch}' in ${excerpt(this.src)}`);
  }
  digits(): string {
    const start = this.pos;
    while (this.pos < this.src.length && this.src.charCodeAt(this.pos) >= 48 && this.src.charCodeAt(this.pos) <= 57) this.pos++;
    return this.src.slice(start, this.pos);
  }
}
