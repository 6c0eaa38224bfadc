/**
 * The server's log: JSON lines in pino's line format (`level` as a number, `time` in ms since the epoch,
 * the entry's fields, `msg`), written to a file descriptor in batches. Hand-written rather than pino
 * because pino and its stream modules add ~8 MB to an idle server (measured, ADR 0003) — a sixth of
 * the idle memory budget for what is one JSON.stringify and one write per batch.
 *
 * Lines are queued and written every `flushMs` or once `batchBytes` are queued, so a busy front end makes
 * one write per batch instead of one per request. A descriptor that cannot take more (EAGAIN on a full
 * pipe) is retried on the next flush; past `maxQueuedBytes` the oldest lines are dropped and counted, so a
 * stalled log reader can neither block the event loop nor grow the server without bound.
 */
import { writeSync } from 'node:fs';

/** Level names and pino's numbers for them. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

export interface JsonLogOptions {
  /** File descriptor written to (1 = stdout). */
  fd?: number;
  level?: LogLevel;
  flushMs?: number;
  batchBytes?: number;
  maxQueuedBytes?: number;
}

export class JsonLog {
  private readonly fd: number;
  private readonly min: number;
  private readonly flushMs: number;
  private readonly batchBytes: number;
  private readonly maxQueuedBytes: number;
  private queue: string[] = [];
  private queued = 0;
  /** Bytes a previous flush could not write (kept as bytes: a partial write may split a character). */
  private pending: Buffer | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** Lines dropped because the descriptor did not keep up. */
  dropped = 0;

  constructor(opts: JsonLogOptions = {}) {
    this.fd = opts.fd ?? 1;
    this.min = LOG_LEVELS[opts.level ?? 'info'];
    this.flushMs = opts.flushMs ?? 200;
    this.batchBytes = opts.batchBytes ?? 64 * 1024;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS[level] >= this.min;
  }

  info(fields: Record<string, unknown>, msg?: string): void {
    this.write('info', fields, msg);
  }

  warn(fields: Record<string, unknown>, msg?: string): void {
    this.write('warn', fields, msg);
  }

  error(fields: Record<string, unknown>, msg?: string): void {
    this.write('error', fields, msg);
  }

  write(level: LogLevel, fields: Record<string, unknown>, msg?: string): void {
    const n = LOG_LEVELS[level];
    if (n < this.min) return;
    let line: string;
    try {
      line = JSON.stringify({ level: n, time: Date.now(), ...fields, ...(msg === undefined ? {} : { msg }) }) + '\n';
    } catch {
      line = JSON.stringify({ level: n, time: Date.now(), msg: msg ?? 'unserialisable log entry' }) + '\n';
    }
    this.queue.push(line);
    this.queued += line.length;
    while (this.queued > this.maxQueuedBytes && this.queue.length > 1) {
      this.queued -= (this.queue.shift() as string).length;
      this.dropped++;
    }
    if (this.queued >= this.batchBytes) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes what is queued; what the descriptor refuses stays queued for the next flush. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 && !this.pending) return;
    const fresh = Buffer.from(this.queue.join(''));
    let data = this.pending ? Buffer.concat([this.pending, fresh]) : fresh;
    this.pending = null;
    this.queue = [];
    this.queued = 0;
    while (data.length > 0) {
      let n: number;
      try {
        n = writeSync(this.fd, data);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        // A closed or broken log descriptor must not take the server down: the lines are lost.
        this.dropped++;
        return;
      }
      data = data.subarray(n);
    }
    if (data.length > 0) {
      if (data.length > this.maxQueuedBytes) {
        // The reader has stalled for a long while: give up on what is pending rather than grow.
        this.dropped++;
        return;
      }
      this.pending = data;
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }
}
