/**
 * Sessions and channels (15444-9 C.3, notes §7.2–7.3): a channel is named by a random, unguessable
 * cid and belongs to one session; a session holds the target, the cache model shared by its
 * channels, and runs its requests one at a time in arrival order: a request that finds the session
 * busy (a response still being produced) or with requests already waiting joins its FIFO. Channels
 * are independent of TCP connections. Idle sessions expire. No HTTP and no threads here.
 */
import { JpipdError } from '../errors.js';
import { CacheModel, ModelBudget } from './cache-model.js';

/** One session: a target opened for a client, with its cache model. */
export class Session<TImage> {
  readonly channels = new Set<string>();
  readonly model: CacheModel;
  /** Images this session has used besides its target (linked frames); released with the session. */
  readonly uses = new Set<TImage>();
  /** A response of this session is being produced (its later pieces are still to come). */
  busy = false;
  /** Requests waiting for their turn, oldest first. */
  readonly waiting: Array<() => void> = [];
  lastActive = Date.now();
  closed = false;
  constructor(
    readonly id: string,
    readonly image: TImage,
    /** Who opened it (the client's address), for the per-client limit; '' when unknown. */
    readonly client = '',
    /** The thread's bound on the model entries of all sessions. */
    budget: ModelBudget | null = null,
  ) {
    this.model = new CacheModel(undefined, budget);
  }

  /** True when a request arriving now may run at once (nothing running, nobody waiting). */
  get free(): boolean {
    return !this.busy && this.waiting.length === 0;
  }

  /** Hands the session to the next waiting request (which then holds it: busy), if it is free. */
  wake(): void {
    if (this.busy || this.closed) return;
    const next = this.waiting.shift();
    if (next) {
      this.busy = true;
      next();
    }
  }
}

/** Limits of the session table. */
export interface SessionLimits {
  maxSessions: number;
  maxChannelsPerSession: number;
  idleMs: number;
  /** Requests of one session waiting or running; more are refused with ERR_BUSY. */
  maxQueuedPerSession: number;
  /** Sessions one client (address) may hold; opening one more ends its least recently used. */
  maxSessionsPerClient: number;
  /** A full table ends a free session idle at least this long to make room (byte-less ones first). */
  evictIdleMs: number;
  /** Cache-model bins of all sessions of the table together (~8 bytes each). */
  modelBudgetEntries: number;
}

/** Default limits: generous for archives, bounded against exhaustion. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxSessions: 10_000,
  maxChannelsPerSession: 32,
  idleMs: 300_000,
  maxQueuedPerSession: 64,
  maxSessionsPerClient: 1_000,
  evictIdleMs: 10_000,
  modelBudgetEntries: 8_000_000,
};

/**
 * A new channel id: 32 hex digits, URL-safe, no ',' or '=' (notes §2.2). The first two name the
 * front-end thread that owns the session (`owner`, 0–255), so any thread can route the channel's
 * requests; the other 30 are random (120 bits: unguessable).
 */
export function newChannelId(owner = 0, node = ''): string {
  const id = owner.toString(16).padStart(2, '0') + randomHex(15);
  return node ? `${node}.${id}` : id;
}

/**
 * A node name (scale-out, docs/operations.md): 1–16 lowercase letters and digits. It prefixes every
 * channel id (`n2.` + 32 hex digits) and names the channel path (`jpip/n2`), so a reverse proxy can
 * route a channel's requests to the node that holds it.
 */
export const NODE_NAME = /^[a-z0-9]{1,16}$/;

/** Cryptographic random bytes drawn from a pool refilled 4 KiB at a time (one call per 273 channels). */
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;
function randomHex(n: number): string {
  if (poolAt + n > POOL.length) {
    // node:crypto is loaded on the first channel, not at start-up (idle memory, ADR 0003).
    process.getBuiltinModule('node:crypto').randomFillSync(POOL);
    poolAt = 0;
  }
  const hex = POOL.toString('hex', poolAt, poolAt + n);
  // Never hand out the same bytes twice.
  POOL.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return hex;
}

/** The owner named by a channel id made by newChannelId, or -1 for any other string. */
export function channelOwner(cid: string): number {
  const m = CHANNEL_ID.exec(cid);
  return m ? parseInt(m[1], 16) : -1;
}
const CHANNEL_ID = /^(?:[a-z0-9]{1,16}\.)?([0-9a-f]{2})[0-9a-f]{30}$/;

/** The table of live sessions and channels of one thread. */
export class SessionTable<TImage> {
  /** Live sessions, least recently used first (a session is moved to the end when used). */
  private readonly sessions = new Map<string, Session<TImage>>();
  /** Live sessions per client address. */
  private readonly perClient = new Map<string, number>();
  /** Sessions ended to make room (full table or a client at its limit). */
  evicted = 0;
  /** The model entries of all sessions of this table together. */
  readonly modelBudget: ModelBudget;
  private readonly channels = new Map<string, Session<TImage>>();
  /** Session ids are internal (never sent): a counter. */
  private seq = 0;

  constructor(
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    private readonly onEnd: (s: Session<TImage>) => void = () => {},
    /** The owner number written into every channel id this table makes (its front end). */
    readonly owner = 0,
    modelBudgetEntries?: number,
    /** The node name written before every channel id (scale-out), or '' for none. */
    readonly node = '',
  ) {
    this.modelBudget = new ModelBudget(modelBudgetEntries ?? limits.modelBudgetEntries);
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Number of open channels. */
  get channelCount(): number {
    return this.channels.size;
  }

  /**
   * Opens a session with one channel for `client` (an address; '' when unknown); returns the channel
   * id. A client at its limit gives up its own least recently used free session. A full table gives
   * up, least recently used first, a free session that never received data, else one idle for
   * evictIdleMs; only when every session is busy or recently active is the request refused (503).
   */
  open(image: TImage, client = ''): { session: Session<TImage>; cid: string } {
    const limits = this.limits;
    if (client && (this.perClient.get(client) ?? 0) >= limits.maxSessionsPerClient) {
      const own = this.lru((s) => s.client === client && s.free);
      if (!own) throw new JpipdError('ERR_BUSY', 'too many sessions for this client');
      this.evict(own);
    }
    if (this.sessions.size >= limits.maxSessions) {
      const now = Date.now();
      const victim = this.lru((s) => s.free && s.model.size === 0) ?? this.lru((s) => s.free && now - s.lastActive >= limits.evictIdleMs);
      if (!victim) throw new JpipdError('ERR_BUSY', 'too many sessions');
      this.evict(victim);
    }
    const session = new Session(String(++this.seq), image, client, this.modelBudget);
    this.sessions.set(session.id, session);
    if (client) this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    return { session, cid: this.addChannel(session) };
  }

  /** The least recently used session that satisfies `ok` (the table is kept in use order). */
  private lru(ok: (s: Session<TImage>) => boolean): Session<TImage> | undefined {
    for (const s of this.sessions.values()) if (ok(s)) return s;
    return undefined;
  }

  private evict(s: Session<TImage>): void {
    this.evicted++;
    this.end(s);
  }

  /** Adds a channel to an existing session (cnew together with cid). */
  addChannel(session: Session<TImage>): string {
    if (session.channels.size >= this.limits.maxChannelsPerSession) throw new JpipdError('ERR_BUSY', 'too many channels in this session');
    const cid = newChannelId(this.owner, this.node);
    session.channels.add(cid);
    this.channels.set(cid, session);
    session.lastActive = Date.now();
    return cid;
  }

  /** The session of a channel of this table (touching it), or undefined. */
  find(cid: string): Session<TImage> | undefined {
    const s = this.channels.get(cid);
    if (!s || s.closed) return undefined;
    s.lastActive = Date.now();
    // Keep the table in use order: the least recently used session is the first one.
    this.sessions.delete(s.id);
    this.sessions.set(s.id, s);
    return s;
  }

  /** The session of a channel (touching it), or throws ERR_UNKNOWN_CHANNEL. */
  byChannel(cid: string): Session<TImage> {
    const s = this.find(cid);
    if (!s) throw new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel');
    return s;
  }

  /** Closes channels; `'*'` closes every channel of the session of `cid`. Returns the number closed. */
  close(which: string[] | '*', cid?: string): number {
    let n = 0;
    if (which === '*') {
      if (!cid) return 0;
      const s = this.channels.get(cid);
      if (!s) return 0;
      for (const c of [...s.channels]) n += this.closeOne(c);
      return n;
    }
    for (const c of which) n += this.closeOne(c);
    return n;
  }

  private closeOne(cid: string): number {
    const s = this.channels.get(cid);
    if (!s) return 0;
    this.channels.delete(cid);
    s.channels.delete(cid);
    if (s.channels.size === 0) this.end(s);
    return 1;
  }

  private end(s: Session<TImage>): void {
    if (s.closed) return;
    s.closed = true;
    for (const c of s.channels) this.channels.delete(c);
    s.channels.clear();
    this.sessions.delete(s.id);
    if (s.client) {
      const n = (this.perClient.get(s.client) ?? 1) - 1;
      if (n > 0) this.perClient.set(s.client, n);
      else this.perClient.delete(s.client);
    }
    // Requests still waiting run and find the channel closed.
    for (const w of s.waiting.splice(0)) w();
    s.model.release();
    this.onEnd(s);
  }

  /** Ends sessions idle for longer than the limit and not busy; returns how many ended. */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.free && now - s.lastActive > this.limits.idleMs) {
        this.end(s);
        n++;
      }
    }
    return n;
  }

  /** Ends every session. */
  closeAll(): void {
    for (const s of [...this.sessions.values()]) this.end(s);
  }
}
