/**
 * Loads uWebSockets.js and refuses its slow pure-JS fallback: the package silently falls back when
 * its native binary does not load (wrong Node ABI, platform), which would hide a broken install.
 */
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

/** The uWebSockets.js module type. */
export type Uws = typeof UwsTypes;

/** True when `App` is a native function (the fallback's App is plain JavaScript). */
export function isNativeUws(m: Partial<Uws>): boolean {
  return typeof m.SSLApp === 'function' && typeof m.App === 'function' && /\[native code\]/.test(Function.prototype.toString.call(m.App));
}

/** Loads uWebSockets.js; throws a clear error if only the JS fallback is available. */
export function loadUws(): Uws {
  const require = createRequire(import.meta.url);
  const saved = console.warn;
  let m: Uws;
  try {
    console.warn = () => {};
    m = require('uWebSockets.js') as Uws;
  } finally {
    console.warn = saved;
  }
  if (!isNativeUws(m)) {
    throw new Error(
      `uWebSockets.js native binary did not load (Node ${process.versions.node}, ABI ${process.versions.modules}, ${process.platform}-${process.arch}); ` +
        'jpipd refuses the slow JavaScript fallback. Use Node.js 20 on a supported platform and reinstall (npm install).',
    );
  }
  return m;
}
