/**
 * Command-line options of the jpipd commands: Node's util.parseArgs (strict) behind the small
 * interface the commands share with --config files and JPIPD_* variables (an options Map). Unknown
 * options and bad values raise UsageError, which the CLI turns into exit code 2.
 */
import { parseArgs as parseNodeArgs } from 'node:util';

/** A command-line mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** Option specification: name → whether it takes a value. */
export type OptionSpec = Record<string, 'value' | 'flag'>;

/** Parsed command line: positionals and options. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

/** Parses `--name value`, `--name=value` and `--flag` (util.parseArgs, strict); rejects unknown options. */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, kind] of Object.entries(spec)) options[name] = { type: kind === 'flag' ? 'boolean' : 'string' };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseNodeArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's messages name the option and the problem in one line ("Unknown option '--prot'. …").
    throw new UsageError((e as Error).message.split('\n')[0]);
  }
  const out = new Map<string, string | true>();
  for (const [name, v] of Object.entries(parsed.values)) {
    if (v === undefined) continue;
    if (v === '') throw new UsageError(`--${name} needs a value`);
    if (v === true) out.set(name, true);
    else if (v !== false) out.set(name, v);
  }
  return { positionals: parsed.positionals, options: out };
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
