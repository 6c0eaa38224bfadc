/**
 * Minimal argument parsing for the jpipd CLI (no dependency: commander ≥ 15 needs Node 22).
 * Unknown options and bad values raise UsageError, which the CLI turns into exit code 2.
 */

/** A command-line mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Option specification: name → whether it takes a value. */
export type OptionSpec = Record<string, 'value' | 'flag'>;

/** Parsed command line: positionals and options. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

/** Parses `--name value`, `--name=value` and `--flag`; rejects unknown options. */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'flag') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options.set(name, true);
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    options.set(name, value);
  }
  return { positionals, options };
}

/** An integer option within [min, max], or the default. */
export function intOption(args: ParsedArgs, name: string, def: number, min: number, max: number): number {
  const v = args.options.get(name);
  if (v === undefined) return def;
  if (v === true || !/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** A string option, or the default. */
export function stringOption(args: ParsedArgs, name: string, def: string): string;
export function stringOption(args: ParsedArgs, name: string, def?: string): string | undefined;
export function stringOption(args: ParsedArgs, name: string, def?: string): string | undefined {
  const v = args.options.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v ?? def;
}
