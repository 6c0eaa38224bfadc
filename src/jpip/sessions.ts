/**
 * Sessions and channels (15444-9 C.3, notes §7.2–7.3): a channel is named by a random, unguessable
 * cid and belongs to one session; a session holds the target, the cache model shared by its
 * channels, and runs its requests one at a time in arrival order: a request that finds the session
 * busy (a response still being produced) or with requests already waiting joins its FIFO. Channels
 * are independent of TCP connections. Idle sessions expire. No HTTP and no threads here.
 */
import { JpipdError } from '../errors.js';
import { CacheModel } from './cache-model.js';

/** One session: a target opened for a client, with its cache model. */
export class Session<TImage> {
  readonly channels = new Set<string>();
  readonly model = new CacheModel();
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
  ) {}

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
}

/** Default limits: generous for archives, bounded against exhaustion. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxSessions: 10_000, maxChannelsPerSession: 32, idleMs: 300_000, maxQueuedPerSession: 64 };

/**
 * A new channel id: 32 hex digits, URL-safe, no ',' or '=' (notes §2.2). The first two name the
 * front-end thread that owns the session (`owner`, 0–255), so any thread can route the channel's
 * requests; the other 30 are random (120 bits: unguessable).
 */
export function newChannelId(owner = 0): string {
  return owner.toString(16).padStart(2, '0') + randomHex(15);
}

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
  return /^[0-9a-f]{32}$/.test(cid) ? parseInt(cid.slice(0, 2), 16) : -1;
}

/** The table of live sessions and channels of one thread. */
export class SessionTable<TImage> {
  private readonly sessions = new Map<string, Session<TImage>>();
  private readonly channels = new Map<string, Session<TImage>>();
  /** Session ids are internal (never sent): a counter. */
  private seq = 0;

  constructor(
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    private readonly onEnd: (s: Session<TImage>) => void = () => {},
    /** The owner number written into every channel id this table makes (its front end). */
    readonly owner = 0,
  ) {}

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Number of open channels. */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Opens a session with one channel; returns the channel id. */
  open(image: TImage): { session: Session<TImage>; cid: string } {
    if (this.sessions.size >= this.limits.maxSessions) throw new JpipdError('ERR_BUSY', 'too many sessions');
    const session = new Session(String(++this.seq), image);
    this.sessions.set(session.id, session);
    return { session, cid: this.addChannel(session) };
  }

  /** Adds a channel to an existing session (cnew together with cid). */
  addChannel(session: Session<TImage>): string {
    if (session.channels.size >= this.limits.maxChannelsPerSession) throw new JpipdError('ERR_BUSY', 'too many channels in this session');
    const cid = newChannelId(this.owner);
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
    // Requests still waiting run and find the channel closed.
    for (const w of s.waiting.splice(0)) w();
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
