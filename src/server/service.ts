/**
 * The JPIP service of one front-end thread: one request in, one reply out, independent of the
 * transport. It resolves the target or channel, keeps this thread's sessions, and produces the
 * response with the engine on the calling thread — synchronously whenever the image is open and
 * indexed, which is what lets uWebSockets.js answer pipelined requests. A request that needs heavy
 * work first (a large layout to load, many PLT bytes to index) or whose session is busy returns a
 * promise instead; one whose channel belongs to another front-end thread is forwarded there.
 * Responses are produced in pieces in the thread's arena: the first now, the rest as the transport
 * drains them. JPIP response headers follow 15444-9 D.2.
 */
import { ERROR_CODES, JpipdError, malformed, type ErrorCode } from '../errors.js';
import { Catalog, INLINE_BUDGET, type OpenFile } from '../io/catalog.js';
import type { LoadBudget } from '../io/targets.js';
import { CacheModel } from '../jpip/cache-model.js';
import { binExists } from '../jpip/bin-ids.js';
import { Arena, DEFAULT_MAX_RESPONSE_BYTES, Response, UndoLog, type CodestreamAccess, type ServeRequest, type TargetAccess } from '../jpip/engine.js';
import { namesPastEnd, toServeRequest } from '../jpip/normalize.js';
import { planWindow, type WindowPlan } from '../jpip/plan.js';
import { expandSampledRanges, formatRanges, namesPast } from '../jpip/ranges.js';
import { parseRequest, type JpipRequest } from '../jpip/request.js';
import { channelOwner, DEFAULT_SESSION_LIMITS, SessionTable, type Session, type SessionLimits } from '../jpip/sessions.js';
import type { IndexTables } from '../packet-index/registry.js';
import { CORS_HEADERS, JPP_CONTENT_TYPE, statusText } from './headers.js';
import { Streams, Wait, type StreamRef } from './streams.js';
import type { HeavyWork } from './thread-links.js';

/** A request as the transport hands it over. */
export interface IncomingRequest {
  method: string;
  /** URL path, still percent-encoded. */
  path: string;
  /** Query string without '?', still percent-encoded. */
  query: string;
  /** POST body (form-encoded), if any. */
  body?: string;
  /** The request's Accept-Encoding allows gzip. */
  acceptsGzip?: boolean;
  /** The client's address, when the transport knows it (per-client session limit). */
  client?: string;
  /** Largest first piece the transport wants now (its slow readers hold many unsent bytes); default a whole piece. */
  maxPiece?: number;
}

/** A response for the transport to write. Header names keep their canonical capitalisation. */
export interface Reply {
  status: number;
  statusText: string;
  headers: Array<readonly [string, string]>;
  /** The whole body, or its first piece while `more` (valid until this thread produces another piece). */
  body: Uint8Array;
  /** True while pieces remain: the transport calls next() as the client drains them. */
  more: boolean;
  /** Length of the whole body (Content-Length): known before the first piece is sent. */
  length: number;
  /**
   * The next piece (at most `maxBytes` when given, to keep a slow reader's unsent bytes small); the
   * last one clears `more`. Throws when the image fails mid-body (abort the connection).
   */
  next(maxBytes?: number): Uint8Array;
  /** The transport could not deliver the whole body: the channel ends (its model counts bytes the client lacks). */
  undelivered(): void;
  /** For logs (completed when the last piece is produced). */
  log: Record<string, unknown>;
}

/** Service configuration. */
export interface ServiceOptions {
  /** Realpath of the image root. */
  root: string;
  /** Index cache directory (null: no cache files). */
  cacheDir: string | null;
  /** Where heavy work goes: the worker pool (main thread) or a link to it (worker front ends). */
  pool: HeavyWork;
  /** The shared index tables (the registry, or a link to it from a worker thread). */
  tables: IndexTables;
  sessionLimits?: SessionLimits;
  maxResponseBytes?: number;
  /** This front end's number: prefixes the channel ids of its sessions. */
  frontEnd?: number;
  /**
   * This server's node name when several run behind a reverse proxy (scale-out, docs/operations.md):
   * channel ids start with `<node>.` and channels live at path `jpip/<node>`. Absent: `jpip`.
   */
  node?: string;
  /** Sends a request whose channel belongs to front end `n` there (absent: single front end). */
  forward?: (n: number, inc: IncomingRequest) => Promise<Reply>;
  /** Bounds on what this thread opens and indexes itself (the rest goes to the pool). */
  inlineBudget?: LoadBudget;
  inlineIndexBytes?: number;
  /** Target resolution and file change checks are cached this long (ms). */
  revalidateMs?: number;
  /** The arena responses are produced in (one per thread). */
  arena?: Arena;
}

type Sess = Session<OpenFile>;

/** A request's codestreams made ready (prepare()), before anything is changed. */
interface Prepared {
  /** The target file. */
  file: OpenFile;
  /** Codestreams of the target. */
  count: number;
  /** The normalised request, limited to the codestreams that can be served. */
  sreq: ServeRequest;
  refs: Map<number, StreamRef>;
  plans: Map<number, WindowPlan | undefined>;
  /** The first per-frame error (its frame is left out), if any. */
  firstError?: JpipdError;
  /** Codestreams named by the request were left out (errors, or past the last one): JPIP-stream. */
  streamChanged: boolean;
  /** The components served when the request named some past the last (JPIP-comps), else null. */
  compsServed: string | null;
}

/** A short, stable, URL-safe target id: a digest of (path, size, mtime) — never a server path. */
export function targetId(versionKey: string): string {
  // node:crypto and node:zlib load on first use: an idle server does not carry them (ADR 0003).
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(versionKey).digest('base64url').slice(0, 22);
}

/** Thrown when a channel belongs to another front end. */
class Elsewhere {
  constructor(readonly front: number) {}
}

/** Most retries of a request after asynchronous preparation (each finishes some work). */
const MAX_ATTEMPTS = 8;

/** The transport-independent JPIP service of one thread. */
export class JpipService {
  readonly sessions: SessionTable<OpenFile>;
  readonly catalog: Catalog;
  readonly streams: Streams;
  private readonly arena: Arena;
  private readonly maxResponseBytes: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly front: number;
  /** This server's node name (ServiceOptions.node), or '' for none. */
  readonly node: string;
  /** The path of this server's channels (JPIP-cnew `path=`, without the leading slash). */
  readonly channelPath: string;
  private readonly tids = new Map<string, string>();
  /** The model changes of the first piece being produced (one log per thread, reused). */
  private readonly undo = new UndoLog();

  constructor(private opts: ServiceOptions) {
    this.front = opts.frontEnd ?? 0;
    this.catalog = new Catalog({
      root: opts.root,
      cacheDir: opts.cacheDir,
      revalidateMs: opts.revalidateMs,
      budget: opts.inlineBudget ?? INLINE_BUDGET,
      onClose: (f) => {
        this.streams.dropFile(f);
        // A changed file's version is over for every thread: its index tables go when unused.
        if (f.stale) this.opts.tables.retire(f.key);
      },
    });
    this.streams = new Streams(this.catalog, opts.tables, opts.pool, opts.inlineIndexBytes);
    this.node = opts.node ?? '';
    this.sessions = new SessionTable<OpenFile>(opts.sessionLimits ?? DEFAULT_SESSION_LIMITS, (s) => this.ended(s), this.front, undefined, this.node);
    this.channelPath = this.node ? `jpip/${this.node}` : 'jpip';
    this.arena = opts.arena ?? new Arena();
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.sweeper = setInterval(() => this.sessions.sweep(), 10_000);
    this.sweeper.unref();
  }

  /** Routes requests for other front ends' channels (set when worker front ends start). */
  forwardTo(forward: (n: number, inc: IncomingRequest) => Promise<Reply>): void {
    this.opts = { ...this.opts, forward };
  }

  /** Stops timers, ends all sessions and closes the thread's files. */
  close(): void {
    clearInterval(this.sweeper);
    this.sessions.closeAll();
    this.catalog.closeAll();
  }

  /**
   * Handles one request: a Reply now when it can be produced synchronously, else a promise of one.
   * Never throws (errors become 4xx/5xx replies).
   */
  handle(inc: IncomingRequest): Reply | Promise<Reply> {
    return this.run(inc, null, 0);
  }

  private run(inc: IncomingRequest, turn: Sess | null, attempts: number): Reply | Promise<Reply> {
    try {
      return this.attempt(inc, turn);
    } catch (e) {
      if (e instanceof Wait && attempts < MAX_ATTEMPTS) {
        const held = e.turn as Sess | null;
        return e.promise.then(
          () => this.run(inc, held, attempts + 1),
          (err: unknown) => {
            if (held) this.release(held);
            return this.error(err);
          },
        );
      }
      if (e instanceof Elsewhere && this.opts.forward) return this.opts.forward(e.front, inc).catch((err: unknown) => this.error(err));
      return this.error(e instanceof Wait ? new JpipdError('ERR_BUSY', 'the image is not ready; try again') : e);
    }
  }

  private attempt(inc: IncomingRequest, turn: Sess | null): Reply {
    if (inc.method === 'OPTIONS') return this.empty(204, [['Access-Control-Allow-Methods', 'GET, POST, OPTIONS'], ['Access-Control-Allow-Headers', '*'], ['Access-Control-Max-Age', '86400']]);
    if (inc.method !== 'GET' && inc.method !== 'POST') throw new JpipdError('ERR_METHOD', 'only GET, POST and OPTIONS are served');
    const req = parseRequest(inc.query, inc.body);
    if (req.type && !req.type.accepted) {
      const jpt = req.type.types.some((t) => t.toLowerCase().startsWith('jpt-stream'));
      throw new JpipdError('ERR_TYPE_UNSUPPORTED', jpt ? 'only jpp-stream is served (no tile data-bins): ask for type=jpp-stream' : 'only jpp-stream is served');
    }
    if (req.cclose !== undefined) {
      const n = this.sessions.close(req.cclose, req.cid);
      if (n === 0 && req.cclose !== '*') {
        this.elsewhere(req.cclose[0]);
        throw new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel');
      }
      if (n === 0 && req.cid !== undefined) this.elsewhere(req.cid);
      return this.empty(200, [], { cclose: n });
    }
    if (req.cid === undefined) return this.dataRequest(inc, req, undefined);
    const session = this.sessions.find(req.cid);
    if (!session) {
      this.elsewhere(req.cid);
      throw new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel');
    }
    if (turn !== session) {
      // Requests of a session run one at a time, in arrival order, whatever connection they came on.
      if (!session.free) {
        if (session.waiting.length >= this.sessions.limits.maxQueuedPerSession) throw new JpipdError('ERR_BUSY', 'too many requests queued on this session');
        const w = new Wait(new Promise<void>((resolve) => session.waiting.push(resolve)));
        w.turn = session;
        throw w;
      }
      session.busy = true;
    }
    try {
      return this.dataRequest(inc, req, session);
    } catch (e) {
      if (e instanceof Wait) e.turn = session;
      else this.release(session);
      throw e;
    }
  }

  /** Throws Elsewhere when `cid` names a channel of another front end this service can forward to. */
  private elsewhere(cid: string): void {
    const owner = channelOwner(cid);
    if (owner >= 0 && owner !== this.front && this.opts.forward) throw new Elsewhere(owner);
  }

  /** A session's current request is over: the next waiting one may run. */
  private release(s: Sess): void {
    s.busy = false;
    s.wake();
  }

  private ended(s: Sess): void {
    for (const f of [s.image, ...s.uses]) {
      this.catalog.unuse(f);
      this.opts.tables.release(f.key);
    }
    s.uses.clear();
  }

  /** A window (or metadata) request on a channel's session, a new channel, or statelessly. */
  private dataRequest(inc: IncomingRequest, req: JpipRequest, session: Sess | undefined): Reply {
    let file: OpenFile;
    if (session) {
      file = session.image;
      if (req.cnew && !req.cnew.includes('http')) throw new JpipdError('ERR_FIELD_UNSUPPORTED', 'cnew: only the http transport is offered');
      if (!this.catalog.fresh(file)) {
        // A channel on a file that changed can never be served again: end it so the client reopens.
        this.sessions.close('*', req.cid);
        throw new JpipdError('ERR_TARGET_CHANGED', 'the image changed since this channel opened it');
      }
    } else {
      const target = req.target ?? decodePath(inc.path);
      if (!target || target === '/' || target === '/jpip' || target === `/${this.channelPath}`) throw new JpipdError('ERR_NO_TARGET', 'the request names no target');
      const resolved = this.catalog.resolve(target);
      file = this.streams.file(resolved.rel, resolved.abs);
    }

    // Prepare every requested codestream (may wait for the pool) before changing anything.
    const p = this.prepare(req, file);
    // Channel bookkeeping (15444-9 C.3).
    if (session) return this.serveData(inc, req, p, session, req.cnew ? this.sessions.addChannel(session) : undefined);
    // No channel asked, or no transport jpipd offers: stateless (15444-9 C.3.3), a throw-away model.
    if (!req.cnew?.includes('http')) return this.serveData(inc, req, p, undefined, undefined);
    const opened = this.sessions.open(file, inc.client ?? '');
    this.catalog.use(file);
    this.opts.tables.acquire(file.key);
    opened.session.busy = true;
    try {
      return this.serveData(inc, req, p, opened.session, opened.cid);
    } catch (e) {
      // The client never learns this channel: end it.
      this.sessions.close([opened.cid]);
      throw e;
    }
  }

  /**
   * The request's codestreams, located and indexed as far as their windows need (Wait when the pool
   * must help). Frames that cannot be served are left out; the first such error is kept.
   */
  private prepare(req: JpipRequest, file: OpenFile): Prepared {
    const layout = file.layout;
    const count = layout.links?.length ?? layout.codestreams.length;
    const asked = toServeRequest(req, count, layout.layers);
    const refs = new Map<number, StreamRef>();
    const plans = new Map<number, WindowPlan | undefined>();
    const codestreams: number[] = [];
    let firstError: JpipdError | undefined;
    for (const cs of asked.codestreams) {
      const ref = this.streams.stream(file, cs);
      if (ref instanceof JpipdError) {
        firstError ??= ref;
        continue;
      }
      const plan = planWindow(asked, ref.index);
      if (plan) {
        try {
          this.streams.ready(ref, plan.topLevel);
        } catch (e) {
          // A codestream whose packets cannot be indexed (corrupt PLT or packet headers) fails alone.
          if (!(e instanceof JpipdError) || asked.codestreams.length === 1) throw e;
          firstError ??= new JpipdError(e.code, `codestream ${cs}: ${e.message}`);
          continue;
        }
      }
      refs.set(cs, ref);
      plans.set(cs, plan);
      codestreams.push(cs);
    }
    if (firstError && codestreams.length === 0) throw firstError;
    if (codestreams.length === 0 && (req.stream || req.context)) {
      throw malformed(`no such codestream: the target has ${count} (0-${count - 1})`);
    }
    // Named codestreams past the last one are not served: say which were (15444-9 D.2, JPIP-stream).
    const pastEnd = namesPastEnd(req, count, layout.layers);
    // Components likewise (JPIP-comps), checked against the first codestream served.
    let compsServed: string | null = null;
    const Csiz = codestreams.length > 0 ? refs.get(codestreams[0])?.index.layout.siz.Csiz : undefined;
    if (req.comps && Csiz !== undefined) {
      const valid = expandSampledRanges(req.comps, Csiz - 1, Csiz);
      if (valid.length === 0) throw malformed(`comps: no such component (the image has ${Csiz})`);
      if (namesPast(req.comps, Csiz - 1)) compsServed = formatRanges(valid);
    }
    return { file, count, sreq: { ...asked, codestreams }, refs, plans, firstError, streamChanged: firstError !== undefined || pastEnd, compsServed };
  }

  /** Headers, model statements and the response, once everything is prepared and the channel exists. */
  private serveData(inc: IncomingRequest, req: JpipRequest, p: Prepared, session: Sess | undefined, granted: string | undefined): Reply {
    const { file, count, refs, firstError } = p;
    const layout = file.layout;
    // The identity headers (15444-9 D.2.1–D.2.3).
    const headers: Array<[string, string]> = [];
    const tid = this.tidOf(file.key);
    const tidMismatch = req.tid !== undefined && req.tid !== '0' && req.tid !== tid;
    if (req.tid !== undefined || granted) headers.push(['JPIP-tid', tid]);
    if (granted) headers.push(['JPIP-cnew', `cid=${granted},path=${this.channelPath},transport=http`]);
    if (req.qid !== undefined) headers.push(['JPIP-qid', String(req.qid)]);
    if (p.streamChanged) headers.push(['JPIP-stream', p.sreq.codestreams.join(',')]);
    // The client preferred another return type (e.g. jpt-stream) but accepts JPP: say what is served,
    // as for any request field the server changed (15444-9 D.2).
    if (req.type && !req.type.first) headers.push(['JPIP-type', 'jpp-stream']);

    const model = session ? session.model : new CacheModel();
    if (req.model && !tidMismatch) {
      model.applyStatements(
        req.model,
        (item) => expandSampledRanges(item.codestreams, count - 1, 4096),
        (kind, cs, id) => binExists(layout, kind, cs, id),
      );
    }
    const used = new Set<OpenFile>([file]);
    for (const ref of refs.values()) {
      used.add(ref.file);
      if (session && ref.file !== session.image && !session.uses.has(ref.file)) {
        session.uses.add(ref.file);
        this.catalog.use(ref.file);
        this.opts.tables.acquire(ref.file.key);
      }
    }
    const access: TargetAccess = {
      layout,
      codestreamCount: count,
      targetSource: file.source,
      stream: (cs): CodestreamAccess => {
        const ref = refs.get(cs);
        if (!ref) throw new JpipdError('ERR_INTERNAL', `codestream ${cs} was not prepared`);
        return ref.index;
      },
    };
    return this.produce(inc, req, p, access, model, headers, used, session, granted ?? req.cid);
  }

  /** Produces the first piece of the response and the reply that streams the rest. */
  private produce(
    inc: IncomingRequest,
    req: JpipRequest,
    p: Prepared,
    access: TargetAccess,
    model: CacheModel,
    headers: Array<[string, string]>,
    used: Set<OpenFile>,
    session: Sess | undefined,
    cid: string | undefined,
  ): Reply {
    const sreq = p.sreq;
    const undo = this.undo;
    undo.clear();
    const opts = { maxBytes: this.maxResponseBytes, plans: p.plans, undo };
    let response = new Response(access, sreq, model, opts);
    for (const f of used) this.catalog.use(f);
    let finished = false;
    const log: Record<string, unknown> = { target: p.file.rel };
    const finish = (): void => {
      if (finished) return;
      finished = true;
      for (const f of used) this.catalog.unuse(f);
      Object.assign(log, { eor: response.eor, messages: response.messages, packets: response.packets, bytes: response.bodyBytes });
      if (session) this.release(session);
    };
    let body: Uint8Array;
    let length: number;
    try {
      body = response.fill(this.arena, inc.maxPiece);
      length = body.length;
      if (!response.done) {
        // Larger than one piece: measure the whole body first (an exact walk that writes nothing),
        // so that it goes out with a Content-Length and in pieces as the client reads.
        undo.rollback(model);
        const measured = new Response(access, sreq, model, { ...opts, measure: true });
        measured.fill(this.arena);
        length = measured.bodyBytes;
        undo.rollback(model);
        response = new Response(access, sreq, model, opts);
        body = response.fill(this.arena, inc.maxPiece);
      }
      // The thread's undo log serves the next response: later pieces are not undone (a body cut
      // short ends its channel instead).
      response.forgetUndo();
    } catch (e) {
      // Nothing was sent: undo the model and let the caller (who holds the session) answer the error.
      undo.rollback(model);
      for (const f of used) this.catalog.unuse(f);
      throw e;
    }
    if (response.done) finish();
    const w = sreq.window;
    const s = response.served;
    if (s && w) {
      if (s.fsiz[0] !== w.fx || s.fsiz[1] !== w.fy) headers.push(['JPIP-fsiz', `${s.fsiz[0]},${s.fsiz[1]}`]);
      const ox = w.roff?.x ?? 0;
      const oy = w.roff?.y ?? 0;
      if (s.roff[0] !== ox || s.roff[1] !== oy) headers.push(['JPIP-roff', `${s.roff[0]},${s.roff[1]}`]);
      const rx = w.rsiz?.x ?? w.fx - ox;
      const ry = w.rsiz?.y ?? w.fy - oy;
      if (s.rsiz[0] !== rx || s.rsiz[1] !== ry) headers.push(['JPIP-rsiz', `${s.rsiz[0]},${s.rsiz[1]}`]);
      if (sreq.layers !== undefined && s.layers < sreq.layers) headers.push(['JPIP-layers', String(s.layers)]);
    }
    if (p.compsServed !== null) headers.push(['JPIP-comps', p.compsServed]);
    // quality= is not honoured (layers and len are): say so with -1 (15444-9 C.5.4, D.2).
    if (req.quality !== undefined) headers.push(['JPIP-quality', '-1']);
    // 15444-9 D.2.8: when the budget was too small for the progress owed, say what was used.
    if (response.done && sreq.len !== undefined && sreq.len > 0 && response.messageBytes > sreq.len) headers.push(['JPIP-len', String(response.messageBytes)]);
    // Like esajpip: compress the metadata-heavy responses (metareq) when the client accepts gzip;
    // precinct data is already entropy-coded and barely shrinks.
    if (response.done && inc.acceptsGzip === true && req.metareq !== undefined) {
      body = new Uint8Array(process.getBuiltinModule('node:zlib').gzipSync(body));
      length = body.length;
      headers.push(['Content-Encoding', 'gzip']);
    }
    const reply: Reply = {
      status: 200,
      statusText: 'OK',
      headers: [['Content-Type', JPP_CONTENT_TYPE], ['Cache-Control', 'no-cache'], ...CORS_HEADERS, ...headers],
      body,
      more: !response.done,
      length,
      next: (maxBytes?: number): Uint8Array => {
        let piece: Uint8Array;
        try {
          piece = response.fill(this.arena, maxBytes);
        } catch (e) {
          reply.undelivered();
          throw e;
        }
        if (response.done) {
          reply.more = false;
          finish();
        }
        return piece;
      },
      undelivered: (): void => {
        // The model already counts this body: end the channel so the client reconnects instead of
        // waiting for bytes the server believes it has (notes §7.2).
        reply.more = false;
        finish();
        if (session && cid !== undefined) this.sessions.close([cid]);
      },
      log,
    };
    return reply;
  }

  /** The target id of an image version (memoised: one digest per version). */
  private tidOf(key: string): string {
    let t = this.tids.get(key);
    if (!t) {
      if (this.tids.size >= 4096) this.tids.clear();
      t = targetId(key);
      this.tids.set(key, t);
    }
    return t;
  }

  private empty(status: number, extra: Array<[string, string]>, log: Record<string, unknown> = {}): Reply {
    return plain(status, [['Cache-Control', 'no-cache'], ...CORS_HEADERS, ...extra], new Uint8Array(0), log);
  }

  /** An error reply: status from the code registry, one-line text body, CORS headers. */
  error(e: unknown): Reply {
    let code: ErrorCode = 'ERR_INTERNAL';
    let message = 'internal error';
    if (e instanceof JpipdError) {
      code = e.code;
      message = e.message;
    } else if (e && typeof e === 'object' && 'code' in e && (e as { code: string }).code === 'ENOENT') {
      code = 'ERR_TARGET_NOT_FOUND';
      message = 'no such image';
    }
    const status = ERROR_CODES[code].status;
    const text = `${code}: ${message.split('\n')[0]}\n`;
    return plain(status, [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-cache'], ...CORS_HEADERS], new TextEncoder().encode(text), {
      error: code,
      detail: message,
      internal: code === 'ERR_INTERNAL' ? String((e as Error)?.stack ?? e) : undefined,
    });
  }
}

/** A reply with a complete body. */
function plain(status: number, headers: Array<readonly [string, string]>, body: Uint8Array, log: Record<string, unknown>): Reply {
  return { status, statusText: statusText(status), headers, body, more: false, length: body.length, next: () => new Uint8Array(0), undelivered: () => {}, log };
}

/** Percent-decodes a URL path once; a malformed escape is a malformed request. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new JpipdError('ERR_MALFORMED_REQUEST', 'path: bad percent-encoding');
  }
}

/** Collects a whole reply (every piece, copied): for harnesses and tests. */
export async function collect(r: Reply | Promise<Reply>): Promise<Reply & { body: Uint8Array }> {
  const reply = await r;
  const parts = [reply.body.slice()];
  while (reply.more) parts.push(reply.next().slice());
  const n = parts.reduce((a, p) => a + p.length, 0);
  const body = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return { ...reply, body };
}
