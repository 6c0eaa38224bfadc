/**
 * Shared lexical pieces of JPIP request fields: bounded decimal numbers, UINT-RANGE and
 * sampled-range lists (15444-9 C.4.5 `comps`, C.4.6 `stream`), and their bounded expansion.
 * Every failure is `malformed('<field>: <reason>')`, one line, echoing at most 40 characters.
 */
import { malformed } from '../errors.js';

/** Largest value of a 32-bit request number (fsiz, roff, rsiz, qid, range bounds). */
export const UINT32_MAX = 4294967295;
/** Largest value of an offset-like request number (len, bin ids, byte counts). */
export const UINT53_MAX = Number.MAX_SAFE_INTEGER;
/** Most items a range list (or any comma list in a request) may hold. */
export const MAX_LIST_ITEMS = 4096;

const DIGITS = /^[0-9]+$/;
const UINT_RANGE = /^([0-9]+)(?:(-)([0-9]*))?$/;
const SAMPLED_RANGE = /^([0-9]+)(?:(-)([0-9]*))?(?::([0-9]+))?$/;

/** A printable, one-line excerpt of an untrusted value (at most 40 characters) for error messages. */
export function excerpt(v: string): string {
  const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
  return JSON.stringify(shown.replace(/[^\x20-\x7e]/g, '?'));
}

/**
 * Parses decimal digits only (no sign, no exponent) into a number ≤ `max`; `what` names the field
 * and the optional `part` the piece of it (the message reads `<what>: <part> …`).
 */
export function parseUint(text: string, what: string, max: number = UINT32_MAX, part = ''): number {
  const n = uintIn(text, 0, text.length, max);
  if (n >= 0) return n;
  const p = part === '' ? '' : `${part} `;
  if (!DIGITS.test(text)) throw malformed(`${what}: ${p}expected decimal digits, got ${excerpt(text)}`);
  throw malformed(`${what}: ${p}${excerpt(text)} exceeds ${max}`);
}

/**
 * The decimal number of text[from, to) when it is 1–16 digits and ≤ max, else -1 (the caller then
 * reports why with parseUint). Reads character codes in place: a regular expression and Number() on
 * the sliced strings of a query cost about ten times more.
 */
export function uintIn(text: string, from: number, to: number, max: number): number {
  if (to <= from || to - from > 16) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= max ? n : -1;
}

/** Splits a comma list, rejecting empty lists, empty items and more than MAX_LIST_ITEMS items. */
export function splitList(v: string, what: string): string[] {
  if (v === '') throw malformed(`${what}: empty list`);
  const items = v.split(',', MAX_LIST_ITEMS + 1);
  if (items.length > MAX_LIST_ITEMS) throw malformed(`${what}: more than ${MAX_LIST_ITEMS} items`);
  for (const it of items) if (it === '') throw malformed(`${what}: empty list item`);
  return items;
}

/** A UINT-RANGE (15444-9 C.4.5): `from`..`to` inclusive, `to` null for an open end. */
export interface UintRange {
  from: number;
  to: number | null /* inclusive; null = open end */;
}

/** A sampled range (15444-9 C.4.6): the values from, from+step, … within the range. */
export interface SampledRange extends UintRange {
  step: number /* ≥1 */;
}

/** Parses one `a`, `a-b` or `a-` item; rejects b < a. */
export function parseUintRange(item: string, what: string, max: number = UINT32_MAX): UintRange {
  const m = UINT_RANGE.exec(item);
  if (!m) throw malformed(`${what}: bad range ${excerpt(item)}`);
  return rangeOf(m[1], m[2], m[3], what, max);
}

/** Parses a comma list of UINT-RANGEs (`a`, `a-b`, `a-`), at most MAX_LIST_ITEMS items. */
export function parseUintRanges(v: string, what: string, max: number = UINT32_MAX): UintRange[] {
  return splitList(v, what).map((item) => parseUintRange(item, what, max));
}

/** Parses one sampled range `a[-[b]][:F]` (F ≥ 1, default 1); rejects b < a. */
export function parseSampledRange(item: string, what: string, max: number = UINT32_MAX): SampledRange {
  const m = SAMPLED_RANGE.exec(item);
  if (!m) throw malformed(`${what}: bad range ${excerpt(item)}`);
  const r = rangeOf(m[1], m[2], m[3], what, max);
  const step = m[4] === undefined ? 1 : parseUint(m[4], what, UINT32_MAX);
  if (step < 1) throw malformed(`${what}: sampling step must be ≥ 1`);
  return { from: r.from, to: r.to, step };
}

/** Parses a comma list of sampled ranges (15444-9 C.4.6), at most MAX_LIST_ITEMS items. */
export function parseSampledRanges(v: string, what: string, max: number = UINT32_MAX): SampledRange[] {
  // The common `stream=N`: one number.
  const n = uintIn(v, 0, v.length, max);
  if (n >= 0) return [{ from: n, to: n, step: 1 }];
  return splitList(v, what).map((item) => parseSampledRange(item, what, max));
}

function rangeOf(a: string, dash: string | undefined, b: string | undefined, what: string, max: number): UintRange {
  const from = parseUint(a, what, max);
  if (dash === undefined) return { from, to: from };
  if (b === undefined || b === '') return { from, to: null };
  const to = parseUint(b, what, max);
  if (to < from) throw malformed(`${what}: range ends before it starts (${from}-${to})`);
  return { from, to };
}

/**
 * Expands sampled ranges into distinct values in request order, open ends closed at `max` and values
 * above `max` dropped; stops after `limit` values. Plain UintRanges count as step 1.
 */
export function expandSampledRanges(ranges: readonly (UintRange | SampledRange)[], max: number, limit: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const r of ranges) {
    const step = 'step' in r && r.step >= 1 ? r.step : 1;
    const hi = r.to === null ? max : Math.min(r.to, max);
    for (let i = r.from; i <= hi; i += step) {
      if (out.length >= limit) return out;
      if (!seen.has(i)) {
        seen.add(i);
        out.push(i);
      }
    }
  }
  return out;
}

/** Sorted distinct numbers as a JPIP range list, e.g. [0, 1, 2, 5] → "0-2,5" (15444-9 C.4.5 form). */
export function formatRanges(nums: readonly number[]): string {
  const v = [...new Set(nums)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < v.length; ) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[j] + 1) j++;
    out.push(j === i ? String(v[i]) : `${v[i]}-${v[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** True when some range names a value past `max` (an open range `n-` never does once n ≤ max). */
export function namesPast(ranges: readonly UintRange[], max: number): boolean {
  return ranges.some((r) => r.from > max || (r.to !== null && r.to > max));
}
