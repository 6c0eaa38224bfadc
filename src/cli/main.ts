/**
 * jpipd command line: `serve` runs the server, `index` builds index cache files ahead of time,
 * `movie` builds a JPX movie, `get` is a JPIP client (get-command.ts has its own exit codes).
 * Exit codes: 0 ok, 1 runtime failure, 2 bad arguments.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, intOption, stringOption, UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { JsonLog, LOG_LEVELS, type LogLevel } from './log.js';
import { listImages } from '../io/image-files.js';
import { privateCacheDir } from '../io/index-cache.js';
import { reuseportMigration } from '../io/kernel.js';
import { NODE_NAME } from '../jpip/sessions.js';

const USAGE = `usage:
  jpipd serve --root DIR [--host 127.0.0.1] [--port 8090] [--threads N] [--min-threads 1]
              [--pool-threads N] [--cache-dir DIR] [--index-budget-mb 512] [--session-idle-s 300]
              [--max-sessions 10000] [--max-sessions-per-client 1000]
              [--max-model-entries 8000000] [--cert FILE --key FILE]
              [--keep-alive-s 10] [--read-cache-mb 8] [--log-level info] [--no-listing]
              [--node NAME] [--trust-proxy]   (several nodes behind a proxy: docs/operations.md)
              [--config FILE.json]   (every option also from the file, or JPIPD_<OPTION> variables)
  jpipd config --print [--config FILE.json] [serve options]   (the effective serve configuration)
  jpipd index DIR [--cache-dir DIR] [--threads N]   (parallel; an interrupted run resumes)
  jpipd movie --out MOVIE.jpx [--sort name|date] [--absolute | --embed] [--force] FRAME|FOLDER|GLOB...
  jpipd get URL --fsiz W[,H] [--roff X,Y] [--rsiz W,H] [--stream N | --frames A-B] [--layers L]
                [--len BYTES] -o OUT.png|OUT.j2k
  jpipd help`;

/** How long a stopping server lets responses in flight finish (SIGTERM/SIGINT). */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Default index cache directory: per user under the OS temp dir (made 0700), never inside the image root. */
export const defaultCacheDir = (): string => path.join(os.tmpdir(), `jpipd-${process.getuid?.() ?? 'user'}-index-cache`);

function existingDir(p: string, what: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new UsageError(`${what} ${p} does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`${what} ${p} is not a directory`);
  return fs.realpathSync(p);
}

/** Options of `serve` (also the keys of a --config file and the JPIPD_* environment variables). */
const SERVE_SPEC: OptionSpec = {
  root: 'value',
  host: 'value',
  port: 'value',
  threads: 'value',
  'min-threads': 'value',
  'pool-threads': 'value',
  'cache-dir': 'value',
  'index-budget-mb': 'value',
  'session-idle-s': 'value',
  'max-sessions': 'value',
  'max-sessions-per-client': 'value',
  'max-model-entries': 'value',
  cert: 'value',
  key: 'value',
  'log-level': 'value',
  'keep-alive-s': 'value',
  'read-cache-mb': 'value',
  'no-listing': 'flag',
  node: 'value',
  'trust-proxy': 'flag',
};

/** The serve configuration after precedence and validation (`jpipd config --print` shows it). */
export interface ServeConfig {
  root: string;
  host: string;
  port: number;
  threads: number;
  minThreads: number;
  poolThreads: number;
  cacheDir: string;
  indexBudgetMb: number;
  sessionIdleS: number;
  maxSessions: number;
  maxSessionsPerClient: number;
  maxModelEntries: number;
  cert: string | null;
  key: string | null;
  keepAliveS: number;
  readCacheMb: number;
  logLevel: string;
  listing: boolean;
  /** Node name behind a reverse proxy, or null (docs/operations.md, scale-out). */
  node: string | null;
  trustProxy: boolean;
}

/**
 * The serve options from, by precedence, the command line, the environment (JPIPD_PORT,
 * JPIPD_MAX_SESSIONS, JPIPD_NO_LISTING=1, …) and a --config JSON file (keys as the options' names).
 */
export function serveOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const cli = parseArgs(argv, { ...SERVE_SPEC, config: 'value' });
  const merged = new Map<string, string | true>();
  const configFile = stringOption(cli, 'config') ?? env.JPIPD_CONFIG;
  if (configFile) {
    let data: unknown;
    try {
      data = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config ${configFile}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`--config ${configFile}: must be a JSON object of options`);
    for (const [k, v] of Object.entries(data)) {
      const kind = SERVE_SPEC[k];
      if (!kind) throw new UsageError(`--config ${configFile}: unknown option ${k}`);
      if (kind === 'flag') {
        if (typeof v !== 'boolean') throw new UsageError(`--config ${configFile}: ${k} must be true or false`);
        if (v) merged.set(k, true);
      } else if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) merged.set(k, String(v));
      else throw new UsageError(`--config ${configFile}: ${k} must be a string or a number`);
    }
  }
  for (const [k, kind] of Object.entries(SERVE_SPEC)) {
    const name = `JPIPD_${k.toUpperCase().replaceAll('-', '_')}`;
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (kind === 'flag') {
      if (!/^(1|true|yes|0|false|no)$/i.test(v)) throw new UsageError(`${name} must be 1 or 0`);
      if (/^(1|true|yes)$/i.test(v)) merged.set(k, true);
      else merged.delete(k);
    } else merged.set(k, v);
  }
  for (const [k, v] of cli.options) if (k !== 'config') merged.set(k, v);
  return { positionals: cli.positionals, options: merged };
}

/** Checks and completes the serve options (defaults filled in). */
export function resolveServeConfig(args: ParsedArgs): ServeConfig {
  if (args.positionals.length) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const rootArg = stringOption(args, 'root');
  if (!rootArg) throw new UsageError('serve needs --root DIR');
  const root = existingDir(rootArg, '--root');
  const threads = intOption(args, 'threads', os.availableParallelism(), 1, 256);
  const cert = stringOption(args, 'cert', '');
  const key = stringOption(args, 'key', '');
  if (Boolean(cert) !== Boolean(key)) throw new UsageError('--cert and --key go together');
  for (const f of [cert, key]) if (f && !fs.existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const logLevel = stringOption(args, 'log-level', 'info');
  if (!Object.hasOwn(LOG_LEVELS, logLevel)) throw new UsageError(`--log-level must be one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  const node = stringOption(args, 'node', '');
  if (node && !NODE_NAME.test(node)) throw new UsageError('--node must be 1-16 lowercase letters and digits');
  return {
    root,
    host: stringOption(args, 'host', '127.0.0.1'),
    port: intOption(args, 'port', 8090, 0, 65535),
    threads,
    minThreads: intOption(args, 'min-threads', 1, 1, threads),
    poolThreads: intOption(args, 'pool-threads', Math.max(1, Math.floor(os.availableParallelism() / 2)), 1, 256),
    cacheDir: path.resolve(stringOption(args, 'cache-dir', defaultCacheDir())),
    indexBudgetMb: intOption(args, 'index-budget-mb', 512, 1, 1 << 20),
    sessionIdleS: intOption(args, 'session-idle-s', 300, 1, 86400),
    maxSessions: intOption(args, 'max-sessions', 10_000, 1, 1_000_000),
    maxSessionsPerClient: intOption(args, 'max-sessions-per-client', 1_000, 1, 1_000_000),
    maxModelEntries: intOption(args, 'max-model-entries', 8_000_000, 1000, 1_000_000_000),
    cert: cert ? path.resolve(cert) : null,
    key: key ? path.resolve(key) : null,
    keepAliveS: intOption(args, 'keep-alive-s', 10, 10, 86400),
    readCacheMb: intOption(args, 'read-cache-mb', 8, 0, 1 << 16),
    logLevel,
    listing: !args.options.has('no-listing'),
    node: node || null,
    trustProxy: args.options.has('trust-proxy'),
  };
}

async function serve(argv: string[]): Promise<number> {
  const c = resolveServeConfig(serveOptions(argv));
  const { root, host, port, threads, minThreads, poolThreads, cacheDir } = c;
  const tls = c.cert && c.key ? { cert: c.cert, key: c.key } : undefined;
  const level = c.logLevel;
  const log = new JsonLog({ level: level as LogLevel });
  process.on('exit', () => log.flush());
  // Each command loads only its own modules (a server at rest keeps its memory small).
  const { startServer } = await import('../server/server.js');
  // The CLI owns the process, so it may hold V8's heaps near their live size (process-wide flags).
  (await import('../pool/heap-hold.js')).holdHeap();
  // Read once: the autoscaler's policy and the warning below both follow it.
  const migration = reuseportMigration() === true;
  const server = await startServer({
    root,
    host,
    port,
    threads,
    minThreads,
    autoscalePauseUnderLoad: migration,
    listing: c.listing,
    node: c.node ?? undefined,
    trustProxy: c.trustProxy,
    poolThreads,
    cacheDir,
    indexBudgetBytes: c.indexBudgetMb * 1024 * 1024,
    sessionIdleMs: c.sessionIdleS * 1000,
    sessionLimits: { maxSessions: c.maxSessions, maxSessionsPerClient: c.maxSessionsPerClient, modelBudgetEntries: c.maxModelEntries },
    tls,
    keepAliveMs: c.keepAliveS * 1000,
    readCacheBytes: c.readCacheMb * 1024 * 1024,
    log: (e) => log.info(e),
  });
  const base = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
  const examples = listImages(root, 5);
  log.info({ event: 'listening', url: base, root: '.', threads, cacheDir, node: c.node ?? undefined }, 'jpipd listening');
  if (!privateCacheDir(cacheDir)) log.warn({ event: 'cache-dir-refused', cacheDir }, 'the cache folder is not private (owned by you, not writable by others): running without index cache files');
  if (threads > minThreads && !migration) {
    log.warn(
      { event: 'reuseport-migration-off' },
      'net.ipv4.tcp_migrate_req is not 1: closing a listening socket would reset the connections in its queue, so extra front ends are tried only with a free core and paused only when idle; set it (Linux >= 5.14) to let the autoscaler also try them on a saturated machine',
    );
  }
  // Plain writes: process.stderr would load the stream machinery into an otherwise idle server.
  let hints = `jpipd serving ${root} on ${base} (up to ${threads} front-end threads)\n`;
  for (const rel of examples) hints += `  try: curl -s '${base}/${rel}?cnew=http&type=jpp-stream&fsiz=256,256,round-down&len=65536' -D - -o /dev/null\n`;
  fs.writeSync(2, hints);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while draining stops at once.
      const now = (): void => {
        log.warn({ event: 'stopped-hard' });
        log.flush();
        process.exit(1);
      };
      process.once('SIGINT', now);
      process.once('SIGTERM', now);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // Graceful: stop accepting, let responses in flight finish (up to SHUTDOWN_GRACE_MS), exit 0.
  log.info({ event: 'stopping', graceMs: SHUTDOWN_GRACE_MS });
  await server.close(SHUTDOWN_GRACE_MS);
  log.info({ event: 'stopped' });
  log.flush();
  return 0;
}

async function index(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { 'cache-dir': 'value', threads: 'value' });
  if (args.positionals.length !== 1) throw new UsageError('index needs exactly one DIR');
  const root = existingDir(args.positionals[0], 'DIR');
  // The same cache folder a server configured by environment uses (containers set JPIPD_CACHE_DIR).
  const cacheDir = privateCacheDir(path.resolve(stringOption(args, 'cache-dir', process.env.JPIPD_CACHE_DIR || defaultCacheDir())));
  if (!cacheDir) throw new UsageError('the cache folder must be a directory owned by you and not writable by others');
  const threads = intOption(args, 'threads', os.availableParallelism(), 1, 256);
  const { indexFolder } = await import('./index-command.js');
  // Ctrl-C (or SIGTERM) finishes the images in progress and reports; the next run resumes.
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const result = await indexFolder(root, listImages(root, Number.MAX_SAFE_INTEGER, Infinity), cacheDir, process.stderr, threads, () => stopping);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  process.stdout.write(JSON.stringify({ event: 'indexed', ...result }) + '\n');
  if (result.interrupted) return 130;
  return result.failed > 0 ? 1 : 0;
}

/** Runs the CLI; returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'serve') return await serve(rest);
    if (cmd === 'index') return await index(rest);
    if (cmd === 'movie') return await (await import('./movie-command.js')).movieCommand(rest, process.stderr);
    if (cmd === 'config') {
      const rest2 = rest.filter((a) => a !== '--print');
      if (rest2.length === rest.length) throw new UsageError('config needs --print');
      process.stdout.write(JSON.stringify(resolveServeConfig(serveOptions(rest2)), null, 2) + '\n');
      return 0;
    }
    if (cmd === 'get') return await (await import('./get-command.js')).getCommand(rest, process.stderr);
    if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    throw new UsageError(cmd ? `unknown command ${cmd}` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jpipd: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`jpipd: ${(e as Error).message}\n`);
    return 1;
  }
}
