/** The front end refuses uWebSockets.js' pure-JS fallback (a silent, slow substitute for the native binary). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNativeUws, loadUws } from '../../src/server/uws.js';

describe('uWebSockets.js loading', () => {
  it('accepts the native binary on this machine', () => {
    assert.ok(isNativeUws(loadUws()));
  });
  it('recognises a JavaScript stand-in as not native', () => {
    class App {}
    assert.equal(isNativeUws({ App: App as never, SSLApp: App as never }), false);
    assert.equal(isNativeUws({ App: (() => {}) as never }), false);
  });
});
