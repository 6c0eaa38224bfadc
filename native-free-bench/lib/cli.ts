/** Command-line options of the benchmark scripts. */

/** Reads `--name value` options. */
export function cliArgs(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) m.set(a.slice(2), 'true');
    else m.set(a.slice(2), argv[++i]);
  }
  return m;
}
