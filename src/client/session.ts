/**
 * A JPIP client session over HTTP (15444-9 C, D): opens a channel with `cnew=http`, sends view
 * windows on it, parses each JPP-stream response into a data-bin cache, and closes the channel.
 * Uses the global `fetch`, so it runs in Node and in browsers.
 */
import { DataBinCache } from './databin-cache.js';
import { JppParser, type JppEvent } from './jpp-parser.js';

/** Request fields (values are sent percent-encoded where needed). */
export type Fields = Record<string, string | number | undefined>;

/** One response as the client saw it. */
export interface ClientResponse {
  status: number;
  headers: Headers;
  /** The raw body. */
  body: Uint8Array;
  /** Parsed messages (data and EOR). */
  events: JppEvent[];
  /** EOR reason code, if the body ended with one. */
  eor: number | undefined;
}

/** A JPIP request answered with an HTTP error status (the response is kept). */
export class JpipHttpError extends Error {
  constructor(readonly response: ClientResponse) {
    super(`JPIP request failed with status ${response.status}: ${new TextDecoder().decode(response.body)}`);
  }
}

/** Builds a query string; characters JPIP clients send raw (`[ ] * ! < > , :`) stay raw. */
export function buildQuery(fields: Fields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    parts.push(`${k}=${encodeURIComponent(String(v)).replace(/%(5B|5D|2C|3C|3E|3A|2A|21)/gi, (m) => decodeURIComponent(m))}`);
  }
  return parts.join('&');
}

/** A JPIP session on one target. */
export class JpipSession {
  readonly cache = new DataBinCache();
  cid: string | undefined;
  tid: string | undefined;
  /** Path of channel requests (from JPIP-cnew `path=`). */
  private channelPath = 'jpip';
  readonly responses: ClientResponse[] = [];

  /**
   * `base` is the server origin, e.g. http://127.0.0.1:8090; `target` the image path under the root;
   * `fetchImpl` replaces the global fetch (e.g. one keep-alive connection for servers that bind a
   * channel to its TCP connection, as classic esajpip does).
   */
  constructor(
    readonly base: string,
    readonly target: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** Sends one request and feeds its body to the cache. */
  async send(fields: Fields, method: 'GET' | 'POST' = 'GET'): Promise<ClientResponse> {
    const onChannel = this.cid !== undefined && fields.cnew === undefined;
    const path = onChannel ? `/${this.channelPath}` : `/${this.target.split('/').map(encodeURIComponent).join('/')}`;
    const all: Fields = onChannel ? { cid: this.cid, ...fields } : fields;
    const query = buildQuery(all);
    const res =
      method === 'GET'
        ? await this.fetchImpl(`${this.base}${path}?${query}`)
        : await this.fetchImpl(`${this.base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: query });
    const body = new Uint8Array(await res.arrayBuffer());
    const out: ClientResponse = { status: res.status, headers: res.headers, body, events: [], eor: undefined };
    if (res.status === 200 && res.headers.get('content-type') === 'image/jpp-stream') {
      const parser = new JppParser();
      parser.beginResponse();
      out.events = parser.feed(body);
      parser.end();
      for (const ev of out.events) {
        if (ev.kind === 'eor') out.eor = ev.reason;
        else this.cache.add(ev);
      }
    }
    const cnew = res.headers.get('jpip-cnew');
    if (cnew) {
      const params = new Map(cnew.split(',').map((kv) => kv.split('=') as [string, string]));
      this.cid = params.get('cid');
      this.channelPath = params.get('path') ?? this.channelPath;
    }
    const tid = res.headers.get('jpip-tid');
    if (tid) this.tid = tid;
    this.responses.push(out);
    return out;
  }

  /** Opens the channel (cnew=http) with optional first-request fields. */
  open(fields: Fields = {}): Promise<ClientResponse> {
    return this.send({ cnew: 'http', type: 'jpp-stream', tid: 0, ...fields });
  }

  /**
   * Repeats a window request until the server says the window is done (EOR 1 or 2), as clients do
   * with `len`. Returns every response (each also given to `onResponse` as it arrives). Stops after
   * `maxRounds` as a guard.
   */
  async fetchWindow(fields: Fields, maxRounds = 10000, onResponse?: (r: ClientResponse) => void): Promise<ClientResponse[]> {
    const out: ClientResponse[] = [];
    for (let i = 0; i < maxRounds; i++) {
      const r = await this.send(fields);
      out.push(r);
      onResponse?.(r);
      if (r.status !== 200) throw new JpipHttpError(r);
      if (r.eor === 1 || r.eor === 2) return out;
      if (r.eor !== 4 && r.eor !== 7) throw new Error(`unexpected EOR reason ${r.eor}`);
    }
    throw new Error('window did not complete');
  }

  /** Closes the channel. */
  async close(): Promise<void> {
    if (this.cid === undefined) return;
    await this.fetchImpl(`${this.base}/${this.channelPath}?cclose=${this.cid}&len=0`).then((r) => r.arrayBuffer());
    this.cid = undefined;
  }
}
