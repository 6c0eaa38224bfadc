#!/usr/bin/env node
// jpipd command-line entry: runs the bundled CLI (dist/app, built by `npm install` through the prepare
// script; one bundle loads far less than ~60 separate ES modules, see ADR 0003).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/app/entry.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('jpipd: dist/ is missing; run `npm install` (or `npm run build`) in the jpipd folder first\n');
  process.exit(2);
}
await import(entry.href);
