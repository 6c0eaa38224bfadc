/**
 * The JPIP service: one request in, one response out, independent of the transport. It resolves
 * the target or channel, keeps sessions, runs each session's requests in order, sends the work to
 * the worker pool and forms the JPIP response headers (15444-9 D.2). The uWebSockets.js adapter
 * (http.ts) and in-process harnesses call `handle()`; nothing here blocks the calling thread.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { EOR_LENGTH } from '../bytes/jpp.js';
import { ERROR_CODES, JpipdError, fromErrorData, type ErrorCode } from '../errors.js';
import { resolveTarget } from '../io/paths.js';
import { CacheModel } from '../jpip/cache-model.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../jpip/engine.js';
import { toServeRequest } from '../jpip/normalize.js';
import { expandSampledRanges } from '../jpip/ranges.js';
import { parseRequest, type JpipRequest } from '../jpip/request.js';
import { DEFAULT_SESSION_LIMITS, SessionTable, type Session, type SessionLimits } from '../jpip/sessions.js';
import { ImageRegistry, type OpenImage } from '../packet-index/registry.js';
import type { ImageRef, ImageSummary, StreamRef } from '../pool/messages.js';
import type { WorkerPool } from '../pool/pool.js';
import { corsHeaders, JPP_CONTENT_TYPE, statusText } from './headers.js';

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
}

/** A response for the transport to write. Header names keep their canonical capitalisation. */
export interface OutgoingResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
  /** True for JPP-stream bodies (sent chunked); false for short text or empty bodies. */
  stream: boolean;
  /** The transport calls this if the body could not be delivered whole. */
  undelivered?: () => void;
  /** For logs. */
  log: Record<string, unknown>;
}

/** Service configuration. */
export interface ServiceOptions {
  /** Realpath of the image root. */
  root: string;
  /** Index cache directory (null: no cache files). */
  cacheDir: string | null;
  pool: WorkerPool;
  sessionLimits?: SessionLimits;
  indexBudgetBytes?: number;
  maxResponseBytes?: number;
}


type Image = OpenImage<ImageSummary>;

/** A short, stable, URL-safe target id: a digest of (path, size, mtime) — never a server path. */
export function targetId(summaryKey: string): string {
  return createHash('sha256').update(summaryKey).digest('base64url').slice(0, 22);
}

/** The transport-independent JPIP service. */
export class JpipService {
  readonly registry: ImageRegistry<ImageSummary>;
  readonly sessions: SessionTable<Image>;
  private readonly maxResponseBytes: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: ServiceOptions) {
    this.registry = new ImageRegistry<ImageSummary>(
      async (abs, rel) => {
        const r = await opts.pool.open({ kind: 'open', abs, rel, root: opts.root, cacheDir: opts.cacheDir });
        if (!r.ok) throw fromErrorData(r.error);
        return r.summary;
      },
      async (abs) => {
        const st = await fsp.stat(abs);
        return { size: st.size, mtimeMs: st.mtimeMs };
      },
      opts.indexBudgetBytes,
    );
    this.sessions = new SessionTable<Image>(opts.sessionLimits ?? DEFAULT_SESSION_LIMITS, (s) => this.registry.release(s.image));
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.sweeper = setInterval(() => this.sessions.sweep(), 10_000);
    this.sweeper.unref();
  }

  /** Stops timers and ends all sessions. */
  close(): void {
    clearInterval(this.sweeper);
    this.sessions.closeAll();
  }

  /** Handles one request; never throws (errors become 4xx/5xx responses). */
  async handle(inc: IncomingRequest): Promise<OutgoingResponse> {
    try {
      if (inc.method === 'OPTIONS') return this.empty(204, [['Access-Control-Allow-Methods', 'GET, POST, OPTIONS'], ['Access-Control-Allow-Headers', '*'], ['Access-Control-Max-Age', '86400']]);
      if (inc.method !== 'GET' && inc.method !== 'POST') throw new JpipdError('ERR_METHOD', 'only GET, POST and OPTIONS are served');
      const req = parseRequest(inc.query, inc.body);
      if (req.type && !req.type.accepted) throw new JpipdError('ERR_TYPE_UNSUPPORTED', 'only jpp-stream is served');
      if (req.cclose !== undefined) {
        const n = this.sessions.close(req.cclose, req.cid);
        if (n === 0 && req.cclose !== '*') throw new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel');
        return this.empty(200, [], { cclose: n });
      }
      return await this.dataRequest(inc, req);
    } catch (e) {
      return this.error(e);
    }
  }

  private async dataRequest(inc: IncomingRequest, req: JpipRequest): Promise<OutgoingResponse> {
    const headers: Array<[string, string]> = [];
    let session: Session<Image> | undefined;
    let image: Image;
    let granted: string | undefined;
    if (req.cid !== undefined) {
      session = this.sessions.byChannel(req.cid);
      image = session.image;
      if (req.cnew) {
        if (!req.cnew.includes('http')) throw new JpipdError('ERR_FIELD_UNSUPPORTED', 'cnew: only the http transport is offered');
        granted = this.sessions.addChannel(session);
      }
    } else {
      const target = req.target ?? decodePath(inc.path);
      if (!target || target === '/' || target === '/jpip') throw new JpipdError('ERR_NO_TARGET', 'the request names no target');
      const resolved = await resolveTarget(this.opts.root, target);
      image = await this.registry.acquire(resolved.abs, resolved.rel);
      if (req.cnew?.includes('http')) {
        try {
          const opened = this.sessions.open(image);
          session = opened.session;
          granted = opened.cid;
        } catch (e) {
          this.registry.release(image);
          throw e;
        }
      }
      // Otherwise stateless (15444-9 C.3.3: no channel asked, or no offered transport): a throw-away model.
    }
    const tid = targetId(image.summary.key);
    const tidMismatch = req.tid !== undefined && req.tid !== '0' && req.tid !== tid;
    if (req.tid !== undefined || granted) headers.push(['JPIP-tid', tid]);
    if (granted) headers.push(['JPIP-cnew', `cid=${granted},path=jpip,transport=http`]);
    if (req.qid !== undefined) headers.push(['JPIP-qid', String(req.qid)]);

    const run = async (model: CacheModel): Promise<OutgoingResponse> => {
      if (req.model && !tidMismatch) {
        model.applyStatements(req.model, (item) => expandSampledRanges(item.codestreams, image.summary.codestreams - 1, 4096));
      }
      const asked = toServeRequest(req, image.summary.codestreams, image.summary.layers);
      // Where each codestream lives; frames of a hyperlinked JPX that cannot be served are left out.
      const found = await Promise.all(asked.codestreams.map((cs) => this.streamFor(image, cs)));
      const streams: StreamRef[] = [];
      const codestreams: number[] = [];
      let firstError: JpipdError | undefined;
      found.forEach((f, i) => {
        if (f instanceof JpipdError) firstError ??= f;
        else {
          streams.push(f);
          codestreams.push(asked.codestreams[i]);
        }
      });
      if (firstError && codestreams.length === 0) throw firstError;
      if (firstError) headers.push(['JPIP-stream', codestreams.join(',')]);
      const sreq = { ...asked, codestreams };
      const result = await this.opts.pool.serve({
        kind: 'serve',
        image: refOf(image),
        root: this.opts.root,
        cacheDir: this.opts.cacheDir,
        request: sreq,
        streams,
        model: model.snapshot(sreq.codestreams),
        maxBytes: this.maxResponseBytes,
        // Like esajpip: compress the metadata-heavy responses (metareq) when the client accepts gzip;
        // precinct data is already entropy-coded and barely shrinks.
        gzip: inc.acceptsGzip === true && req.metareq !== undefined,
      });
      if (!result.ok) {
        // A channel on a file that changed can never be served again: end it so the client reopens.
        if (result.error.code === 'ERR_TARGET_CHANGED' && session) this.sessions.close('*', [...session.channels][0]);
        throw fromErrorData(result.error);
      }
      model.applyPackedDelta(result.delta);
      if (result.served && sreq.window) {
        const w = sreq.window;
        const s = result.served;
        if (s.fsiz[0] !== w.fx || s.fsiz[1] !== w.fy) headers.push(['JPIP-fsiz', `${s.fsiz[0]},${s.fsiz[1]}`]);
        const ox = w.roff?.x ?? 0;
        const oy = w.roff?.y ?? 0;
        if (s.roff[0] !== ox || s.roff[1] !== oy) headers.push(['JPIP-roff', `${s.roff[0]},${s.roff[1]}`]);
        const rx = w.rsiz?.x ?? w.fx - ox;
        const ry = w.rsiz?.y ?? w.fy - oy;
        if (s.rsiz[0] !== rx || s.rsiz[1] !== ry) headers.push(['JPIP-rsiz', `${s.rsiz[0]},${s.rsiz[1]}`]);
        if (sreq.layers !== undefined && s.layers < sreq.layers) headers.push(['JPIP-layers', String(s.layers)]);
      }
      // 15444-9 D.2.8: when the budget was too small for the progress owed, say what was used.
      if (sreq.len !== undefined && sreq.len > 0 && result.plainLength - EOR_LENGTH > sreq.len) headers.push(['JPIP-len', String(result.plainLength - EOR_LENGTH)]);
      if (result.gzipped) headers.push(['Content-Encoding', 'gzip']);
      const out = this.jpp(headers, result.body, { eor: result.eor, messages: result.messages, bytes: result.body.length, target: image.rel });
      // The model already counts this body: if it never reaches the client, end the channel so the
      // client reconnects instead of waiting for bytes the server believes it has (notes §7.2).
      const cid = granted ?? req.cid;
      if (session && cid !== undefined) out.undelivered = () => this.sessions.close([cid]);
      return out;
    };

    if (!session) {
      try {
        return await run(new CacheModel());
      } finally {
        this.registry.release(image);
      }
    }
    const s = session;
    if (s.queue.size >= this.sessions.limits.maxQueuedPerSession) throw new JpipdError('ERR_BUSY', 'too many requests queued on this session');
    return s.queue.run(() => run(s.model));
  }

  /**
   * Where codestream `cs` of `image` lives: in the image itself, or (hyperlinked JPX) in the linked
   * file, whose index is shared by every movie linking it. Returns the frame's error instead of
   * throwing, so the other frames of a request can still be served.
   */
  private async streamFor(image: Image, cs: number): Promise<StreamRef | JpipdError> {
    const links = image.summary.links;
    if (!links) return { image: refOf(image), cs, sab: this.registry.sab(image, cs) };
    const link = links[cs];
    if (!link || link.error || !link.rel) return link?.error ? fromErrorData(link.error) : new JpipdError('ERR_TARGET_NOT_FOUND', `frame ${cs}: no such frame`);
    try {
      const frame = await this.registry.child(image, path.join(this.opts.root, link.rel), link.rel);
      const inFrame = frame.summary.codestreamOffsets.indexOf(link.offset);
      if (inFrame < 0) return new JpipdError('ERR_IMAGE_CORRUPT', `frame ${cs}: the link does not point at a codestream of the linked file`);
      return { image: refOf(frame), cs: inFrame, sab: this.registry.sab(frame, inFrame) };
    } catch (e) {
      // Not JpipdError: the file vanished between resolution and open (ENOENT from stat).
      if (!(e instanceof JpipdError)) return new JpipdError('ERR_TARGET_NOT_FOUND', `frame ${cs}: linked file not found`);
      return new JpipdError(e.code, `frame ${cs}: ${e.message}`);
    }
  }

  private jpp(headers: Array<[string, string]>, body: Uint8Array, log: Record<string, unknown>): OutgoingResponse {
    return {
      status: 200,
      statusText: 'OK',
      headers: [['Content-Type', JPP_CONTENT_TYPE], ['Cache-Control', 'no-cache'], ...corsHeaders(), ...headers],
      body,
      stream: true,
      log,
    };
  }

  private empty(status: number, extra: Array<[string, string]>, log: Record<string, unknown> = {}): OutgoingResponse {
    return { status, statusText: statusText(status), headers: [['Cache-Control', 'no-cache'], ...corsHeaders(), ...extra], body: new Uint8Array(0), stream: false, log };
  }

  /** An error response: status from the code registry, one-line text body, CORS headers. */
  error(e: unknown): OutgoingResponse {
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
    return {
      status,
      statusText: statusText(status),
      headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-cache'], ...corsHeaders()],
      body: new TextEncoder().encode(text),
      stream: false,
      log: { error: code, detail: message, internal: code === 'ERR_INTERNAL' ? String((e as Error)?.stack ?? e) : undefined },
    };
  }
}

/** The worker-side name of an opened image. */
function refOf(img: Image): ImageRef {
  return { abs: img.abs, rel: img.rel, key: img.key };
}

/** Percent-decodes a URL path once; a malformed escape is a malformed request. */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new JpipdError('ERR_MALFORMED_REQUEST', 'path: bad percent-encoding');
  }
}
