/**
 * Every error code is documented (as fastify's test/internals/errors.test.js does): docs/errors.md has
 * one section per code of the registry with the registry's HTTP status, and every code string used in
 * src/ exists in the registry (JpipdError) or in JppErrorCode (the client library's own codes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ERROR_CODES, JpipdError, fromErrorData, toErrorData } from '../../src/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = path.join(ROOT, 'src');
const DOC = readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');

/** Sections of docs/errors.md: `### CODE` heading → its text up to the next heading. */
function docSections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = DOC.split(/^### /m).slice(1);
  for (const p of parts) {
    const nl = p.indexOf('\n');
    const code = p.slice(0, nl).trim();
    assert.ok(!out.has(code), `${code} documented twice`);
    out.set(code, p.slice(nl + 1).split(/^##? /m)[0]);
  }
  return out;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every string literal of a source file, and the first arguments of `new JpipdError(...)`/`new JppError(...)`. */
function literals(abs: string): { strings: string[]; jpipd: string[]; jpp: string[] } {
  const sf = ts.createSourceFile(abs, readFileSync(abs, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const res = { strings: [] as string[], jpipd: [] as string[], jpp: [] as string[] };
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) res.strings.push(n.text);
    if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.arguments && n.arguments.length > 0) {
      const a = n.arguments[0];
      const name = n.expression.text;
      if (name === 'JpipdError' && ts.isStringLiteral(a)) res.jpipd.push(a.text);
      else if (name === 'JppError' && ts.isStringLiteral(a)) res.jpp.push(a.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return res;
}

/** The members of `export type JppErrorCode = 'A' | 'B' | …` in src/bytes/jpp.ts. */
function jppCodes(): Set<string> {
  const abs = path.join(SRC, 'bytes', 'jpp.ts');
  const sf = ts.createSourceFile(abs, readFileSync(abs, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isTypeAliasDeclaration(st) && st.name.text === 'JppErrorCode' && ts.isUnionTypeNode(st.type)) {
      for (const t of st.type.types) if (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)) out.add(t.literal.text);
    }
  }
  return out;
}

const CODES = Object.keys(ERROR_CODES);
const CODE_SHAPE = /^ERR_[A-Z0-9_]+$/;

test('every registry code has a section in docs/errors.md with its HTTP status, meaning and when', () => {
  const sections = docSections();
  for (const code of CODES) {
    const text = sections.get(code);
    assert.ok(text !== undefined, `${code} is not documented in docs/errors.md`);
    const status = /HTTP status:\s*(\d{3})/.exec(text)?.[1];
    assert.equal(Number(status), ERROR_CODES[code as keyof typeof ERROR_CODES].status, `${code}: documented status`);
    assert.match(text, /Meaning:\s*\S/, `${code}: meaning`);
    assert.match(text, /When:\s*\S/, `${code}: when it happens`);
  }
});

test('docs/errors.md documents no code that does not exist (registry or JppErrorCode)', () => {
  const known = new Set([...CODES, ...jppCodes()]);
  const extra = [...docSections().keys()].filter((c) => !known.has(c));
  assert.deepEqual(extra, []);
  for (const c of jppCodes()) assert.ok(docSections().has(c), `client code ${c} is documented`);
});

test('every code used in src/ exists in the registry', () => {
  const registry = new Set(CODES);
  const jpp = jppCodes();
  assert.ok(jpp.size > 0, 'JppErrorCode was found');
  const unknown: string[] = [];
  const wrongClass: string[] = [];
  let jpipdCalls = 0;
  for (const abs of listTs(SRC)) {
    const rel = path.relative(SRC, abs);
    const lit = literals(abs);
    jpipdCalls += lit.jpipd.length;
    for (const c of lit.jpipd) if (!registry.has(c)) wrongClass.push(`${rel}: new JpipdError('${c}', …)`);
    for (const c of lit.jpp) if (!jpp.has(c)) wrongClass.push(`${rel}: new JppError('${c}', …)`);
    for (const s of lit.strings) if (CODE_SHAPE.test(s) && !registry.has(s) && !jpp.has(s)) unknown.push(`${rel}: '${s}'`);
  }
  assert.ok(jpipdCalls > 20, 'the scan sees the JpipdError call sites');
  assert.deepEqual(wrongClass, []);
  assert.deepEqual(unknown, []);
});

test('the registry: statuses are HTTP error statuses, meanings are one line, data round-trips', () => {
  for (const code of CODES) {
    const { status, meaning } = ERROR_CODES[code as keyof typeof ERROR_CODES];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
    assert.ok(meaning.length > 0 && !meaning.includes('\n'), code);
    const e = new JpipdError(code as keyof typeof ERROR_CODES, 'x');
    const back = fromErrorData(structuredClone(toErrorData(e)));
    assert.equal(back.code, code);
  }
  assert.equal(fromErrorData({ code: 'ERR_NOPE' as never, message: 'm' }).code, 'ERR_INTERNAL', 'unknown codes become ERR_INTERNAL');
  assert.equal(toErrorData(new Error('x')).code, 'ERR_INTERNAL');
});
