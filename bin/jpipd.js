#!/usr/bin/env node
// jpipd command-line entry: runs the compiled CLI (built by `npm install` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('jpipd: dist/ is missing; run `npm install` (or `npm run build`) in the jpipd folder first\n');
  process.exit(2);
}
await import(entry.href);
