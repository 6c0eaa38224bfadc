/**
 * Sessions and channels (15444-9 C.3, notes §7.2–7.3): a channel is named by a random, unguessable
 * cid and belongs to one session; a session holds the target, the cache model shared by its
 * channels, and a queue that runs its requests one at a time in arrival order. Channels are
 * independent of TCP connections. Idle sessions expire. No HTTP and no threads here.
 */
import { randomBytes } from 'node:crypto';
import { JpipdError } from '../errors.js';
import { CacheModel } from './cache-model.js';

/** Runs async jobs one after another. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** Jobs queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Runs `job` after every job queued before it has settled. */
  run<T>(job: () => Promise<T>): Promise<T> {
    this.pending++;
    const next = this.tail.then(job, job);
    this.tail = next.then(
      () => this.pending--,
      () => this.pending--,
    );
    return next;
  }
}

/** One session: a target opened for a client, with its cache model. */
export class Session<TImage> {
  readonly channels = new Set<string>();
  readonly model = new CacheModel();
  readonly queue = new SerialQueue();
  lastActive = Date.now();
  closed = false;
  constructor(
    readonly id: string,
    readonly image: TImage,
  ) {}
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

/** A new channel id: 128 random bits in hex (URL-safe, no ',' or '='; notes §2.2). */
export function newChannelId(): string {
  return randomBytes(16).toString('hex');
}

/** The table of live sessions and channels. */
export class SessionTable<TImage> {
  private readonly sessions = new Map<string, Session<TImage>>();
  private readonly channels = new Map<string, Session<TImage>>();

  constructor(
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    private readonly onEnd: (s: Session<TImage>) => void = () => {},
  ) {}

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Opens a session with one channel; returns the channel id. */
  open(image: TImage): { session: Session<TImage>; cid: string } {
    if (this.sessions.size >= this.limits.maxSessions) throw new JpipdError('ERR_BUSY', 'too many sessions');
    const session = new Session(randomBytes(16).toString('hex'), image);
    this.sessions.set(session.id, session);
    return { session, cid: this.addChannel(session) };
  }

  /** Adds a channel to an existing session (cnew together with cid). */
  addChannel(session: Session<TImage>): string {
    if (session.channels.size >= this.limits.maxChannelsPerSession) throw new JpipdError('ERR_BUSY', 'too many channels in this session');
    const cid = newChannelId();
    session.channels.add(cid);
    this.channels.set(cid, session);
    session.lastActive = Date.now();
    return cid;
  }

  /** The session of a channel (touching it), or throws ERR_UNKNOWN_CHANNEL. */
  byChannel(cid: string): Session<TImage> {
    const s = this.channels.get(cid);
    if (!s || s.closed) throw new JpipdError('ERR_UNKNOWN_CHANNEL', 'unknown or closed channel');
    s.lastActive = Date.now();
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
    this.onEnd(s);
  }

  /** Ends sessions idle for longer than the limit and not busy; returns how many ended. */
  sweep(now = Date.now()): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (s.queue.size === 0 && now - s.lastActive > this.limits.idleMs) {
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
