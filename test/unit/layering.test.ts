/**
 * Keeps the architecture true (house style, "A layout that shows the architecture"): reads every import
 * of src/**\/*.ts (static, re-exports, dynamic import() and require()) with the TypeScript parser and
 * checks the dependency direction bytes ← j2k ← packet-index ← jpip ← pool ← server ← cli, the side
 * modules (io, movie, client), and which directories may load node:fs, piscina and uWebSockets.js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** One import of one file. */
interface Import {
  /** File, relative to src/ (posix separators). */
  file: string;
  /** The specifier as written. */
  spec: string;
  /** For relative specifiers: the target, relative to src/. */
  target?: string;
  /** True when nothing but types is imported (erased at run time). */
  typeOnly: boolean;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(abs: string): Import[] {
  const file = path.relative(SRC, abs).split(path.sep).join('/');
  const sf = ts.createSourceFile(abs, readFileSync(abs, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    const imp: Import = { file, spec, typeOnly };
    if (spec.startsWith('.')) imp.target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    out.push(imp);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      let typeOnly = false;
      if (c) {
        const named = c.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
        typeOnly = c.isTypeOnly || (!c.name && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly));
      }
      add(node.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier.text, node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const e = node.moduleReference.expression;
      if (ts.isStringLiteral(e)) add(e.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      const isDynamic = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      if (isDynamic || isRequire) add(node.arguments[0].text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const ALL: Import[] = listTs(SRC).flatMap(importsOf);

/** Top-level area of a src-relative path: 'errors' for the registry (errors.ts / errors.js), else the first directory. */
const area = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel.replace(/\.(ts|js)$/, ''));

/** The main chain, lowest first: an area may import its own rank or lower. */
const CHAIN = ['bytes', 'j2k', 'packet-index', 'jpip', 'pool', 'server', 'cli'];

/**
 * Side areas: `io` (the only file-system code: byte sources, catalog, path safety) and `movie` (pure
 * JPX movie planning) sit beside the chain; `client` is a client library. Each lists what it may import.
 */
const SIDE: Record<string, string[]> = {
  io: ['bytes', 'j2k', 'movie', 'io'],
  movie: ['bytes', 'j2k', 'movie'],
  client: ['bytes', 'j2k', 'client'],
  // The browser viewer's code (bundled for browsers): the client library and pure header parsing.
  viewer: ['bytes', 'j2k', 'client', 'viewer'],
};
/** Who may import a side area (besides itself). */
const SIDE_USERS: Record<string, string[]> = {
  io: ['pool', 'server', 'cli'],
  movie: ['io', 'pool', 'server', 'cli'],
  // The command line's `jpipd get` is a client; the server side never uses the client library.
  client: ['cli', 'viewer'],
  viewer: [],
};

/** Why an internal import `from` → `to` breaks the layering, or null when allowed. */
function layeringError(imp: Import): string | null {
  const from = area(imp.file);
  const to = area(imp.target as string);
  if (to === 'errors') return null; // the one error registry is importable from anywhere
  if (from === 'errors') return 'errors.ts must not import other modules';
  if (from === to) return null;
  if (from === 'client') {
    if (to === 'bytes' || to === 'j2k') return null;
    if (to === 'jpip' && imp.typeOnly) return null;
    return `client may import bytes, j2k and jpip types only`;
  }
  if (to in SIDE) return SIDE_USERS[to].includes(from) ? null : `${from} must not import ${to}`;
  if (from in SIDE) return SIDE[from].includes(to) ? null : `${from} may import only ${SIDE[from].join(', ')}`;
  const rf = CHAIN.indexOf(from);
  const rt = CHAIN.indexOf(to);
  if (rf < 0 || rt < 0) return `unknown area '${rf < 0 ? from : to}': place it in the layering`;
  return rt <= rf ? null : `${from} is below ${to} (${CHAIN.join(' ← ')})`;
}

test('the import reader sees the repository (sanity)', () => {
  assert.ok(ALL.length > 100);
  assert.ok(ALL.some((i) => i.file === 'server/uws.ts' && i.spec === 'uWebSockets.js' && !i.typeOnly), 'require() is seen');
  assert.ok(ALL.some((i) => i.file === 'jpip/response.ts' && i.target === 'jpip/window.js'));
  assert.ok(ALL.some((i) => i.typeOnly) && ALL.some((i) => !i.typeOnly));
});

test('every relative import resolves inside src/ and uses a .js extension', () => {
  const bad = ALL.filter((i) => i.target !== undefined && (i.target.startsWith('..') || !i.target.endsWith('.js')));
  assert.deepEqual(bad.map((i) => `${i.file} → ${i.spec}`), []);
});

test('dependency direction: bytes ← j2k ← packet-index ← jpip ← pool ← server ← cli (io, movie, client beside)', () => {
  const violations: string[] = [];
  for (const imp of ALL) {
    if (imp.target === undefined) continue;
    const why = layeringError(imp);
    if (why) violations.push(`${imp.file} → ${imp.target}${imp.typeOnly ? ' (type-only)' : ''}: ${why}`);
  }
  assert.deepEqual(violations, []);
});

test('only src/io touches the file system (exceptions: src/cli, server/service.ts stat, server/server.ts realpath)', () => {
  const FS = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises']);
  const allowed = (file: string): boolean => area(file) === 'io' || area(file) === 'cli' || file === 'server/service.ts' || file === 'server/server.ts';
  const bad = ALL.filter((i) => FS.has(i.spec) && !i.typeOnly && !allowed(i.file)).map((i) => `${i.file} → ${i.spec}`);
  assert.deepEqual(bad, []);
  assert.ok(ALL.some((i) => FS.has(i.spec) && area(i.file) === 'io'), 'io does use the file system');
});

test('only src/pool imports piscina; only src/server imports uWebSockets.js', () => {
  const bad = ALL.filter(
    (i) => (i.spec === 'piscina' && area(i.file) !== 'pool') || (i.spec === 'uWebSockets.js' && area(i.file) !== 'server'),
  ).map((i) => `${i.file} → ${i.spec}`);
  assert.deepEqual(bad, []);
});

test('the layering rule itself rejects what it must (self-check on synthetic imports)', () => {
  const mk = (file: string, target: string, typeOnly = false): Import => ({ file, spec: `./${target}`, target, typeOnly });
  assert.equal(layeringError(mk('jpip/engine.ts', 'j2k/geometry.js')), null);
  assert.equal(layeringError(mk('j2k/geometry.ts', 'errors.js')), null);
  assert.notEqual(layeringError(mk('j2k/geometry.ts', 'jpip/window.js')), null);
  assert.notEqual(layeringError(mk('packet-index/x.ts', 'jpip/engine.js', true)), null, 'type-only upward imports count too');
  assert.notEqual(layeringError(mk('jpip/engine.ts', 'io/file-source.js')), null, 'the protocol layer does no I/O');
  assert.notEqual(layeringError(mk('jpip/engine.ts', 'pool/pool.js')), null);
  assert.equal(layeringError(mk('client/session.ts', 'jpip/request.js', true)), null);
  assert.notEqual(layeringError(mk('client/session.ts', 'jpip/request.js', false)), null);
  assert.notEqual(layeringError(mk('client/session.ts', 'server/http.js', true)), null);
  assert.notEqual(layeringError(mk('newarea/x.ts', 'bytes/vbas.js')), null, 'unknown areas must be placed');
});
