/**
 * When to start, keep and pause front-end threads (front-ends.ts applies the decisions). A pure
 * policy over 500 ms periods so that it can be tested without threads:
 *
 *  - **try** one more when the running front ends have been busy (mean event-loop utilisation ≥
 *    AUTOSCALE_ELU) for AUTOSCALE_SUSTAIN_PERIODS periods in a row and, over those periods, a core was
 *    free for another on average (AUTOSCALE_FREE_CORES idle), or they were saturated (SATURATED_ELU)
 *    whatever the idle share.
 *    With less than a whole core idle, the responses must also be heavy enough to pay for sharing
 *    one (SHARED_CORE_MIN_MS of loop time each).
 *    Saturation alone is enough because idle CPU says little on a machine shared with clients: at 100
 *    clients on 2 cores one front end ran at utilisation 1.0 with 0.25–0.5 cores idle, and a second
 *    one raised movie responses/s by 33 %;
 *  - **keep it only if it pays**: after TRIAL_SETTLE_PERIODS, the response rate over
 *    TRIAL_EVAL_PERIODS must beat the rate of the busy periods that led to the start by
 *    TRIAL_MIN_GAIN, or the front end is
 *    paused again and no other is tried for BACKOFF_PERIODS — twice as long after each further
 *    trial that does not pay (up to MAX_BACKOFF_PERIODS), so a load a second thread cannot help
 *    stops paying for trials. On 2 cores shared with a load generator a second front end at 16
 *    clients raised responses/s by 21–45 % for large responses (274 KB–1.9 MB) and cost 17–24 % more
 *    CPU per response for small ones (15–87 KB) with no gain (AUTOSCALE_FREE_CORES);
 *  - **pause extra ones when idle** (mean utilisation under IDLE_ELU for IDLE_PERIODS), so a server
 *    between bursts is one thread again, as it started; idleness also ends the backoff, since the next
 *    burst may be a load a second front end helps (measured: after failed trials on five-frame
 *    hyperlinked movies, 1.7 MB frames at 16 clients ran a whole benchmark on one front end, 1.05×
 *    esajpip's responses/s instead of 1.26–1.42×).
 *
 * A paused front end stops accepting connections; it keeps serving the ones it has and the channels
 * it owns (other front ends forward their requests to it), so pausing loses no channel. Closing its
 * listening socket resets connections still queued on it unless the kernel migrates them
 * (net.ipv4.tcp_migrate_req): without that, trials need a free core and are never undone under load.
 */

/** Event-loop utilisation above which one more front end is wanted. */
export const AUTOSCALE_ELU = 0.5;
/** How often the policy looks. */
export const AUTOSCALE_PERIOD_MS = 500;
/**
 * Idle CPU (in cores, over the machine, averaged over the busy periods) needed before another front
 * end starts: a new thread only helps when a core is free for it, and costs 17–24 % more CPU per
 * response when it shares one. Measured on 2 cores shared with a load generator at 16 clients, one
 * front end saturated left 0.43 cores idle on average with 274 KB movie frames, 0.44 with 15-frame
 * responses and 0.6 with 1.7 MB frames — where a second front end raised responses/s by 36 %, 21 %
 * and 45 % — but 0.30 with 15 KB windows, 0.23 with the zoom sequence and 0.23 with 87 KB views,
 * where a second one gained nothing or lost 12–18 % (native-free-bench/matrix.ts, 3 runs of 10 s).
 */
export const AUTOSCALE_FREE_CORES = 0.4;
/**
 * Event-loop time per response (ms, over the busy periods) below which another front end is not tried
 * when less than a whole core is idle. A new thread then shares a core with the clients or the other
 * front ends, which pays only when each response carries enough work to outweigh the second thread's
 * wake-ups and cache traffic. Measured on 2 cores shared with a load generator (one front end, 500 ms
 * periods, 2026-11-30 at de8e9ea): 256² windows 0.08–0.15 ms, the zoom sequence 0.13–0.20, five-image
 * views 0.15–0.26, the linked movie 0.23–0.30 — where a second front end gained nothing and, once
 * started without connection migration, stayed for the rest of the load (five-image views at 16
 * clients: p99 12.1–13.4 ms in the runs with two, 9.9–10.9 with one) — against 0.31–0.46 for movie
 * frames, 1.0–1.8 for 15-frame requests and whole frames, where it raised responses/s by 14–45 %.
 */
export const SHARED_CORE_MIN_MS = 0.3;
/**
 * Consecutive busy periods (3 s) before a start; the idle share is their mean. Single 500 ms periods
 * are too noisy to decide on: the idle share of one steady load spans 0.14–0.46 cores.
 */
export const AUTOSCALE_SUSTAIN_PERIODS = 6;
/** Utilisation at which the front ends count as saturated: another is tried even without an idle core. */
export const SATURATED_ELU = 0.9;
/** Periods after a start before its effect is measured (connections spread over the listeners). */
export const TRIAL_SETTLE_PERIODS = 2;
/**
 * Periods over which the rates before and with the new front end are measured (3 s each: the rate
 * of single 500 ms periods varied by ±20 % under steady load).
 */
export const TRIAL_EVAL_PERIODS = 6;
/** Gain in responses/s a new front end must bring to be kept. */
export const TRIAL_MIN_GAIN = 0.1;
/**
 * Periods without another start after one did not pay (30 s), doubled after each further trial that
 * does not pay, up to MAX_BACKOFF_PERIODS; a trial that pays starts over at 30 s. Under steady load on
 * 2 cores shared with a load generator, every trial at 16 clients failed and each cost its 4 s of two
 * competing front ends: one front end throughout spent 0.140 ms of CPU per small window against 0.169
 * with trials every 34 s, and p99 7.1 against 8.5 ms (native-free-bench/matrix.ts, 3 runs of 10 s).
 */
export const BACKOFF_PERIODS = 60;
/** The longest wait between trials that do not pay (5 min). */
export const MAX_BACKOFF_PERIODS = 600;
/** Utilisation under which the front ends count as idle … */
export const IDLE_ELU = 0.05;
/** … for this many periods (5 s) before an extra one is paused. */
export const IDLE_PERIODS = 10;

/**
 * Whether another front end would help, given the front ends' mean utilisation, the machine's idle
 * cores and the event-loop time per response (all over the sustain periods); `saturation`: saturation
 * alone is enough (only where a trial that does not pay can be paused under load without resetting
 * connections). `freeCores` 0 decides on busy-ness alone.
 */
export function shouldAddFrontEnd(meanElu: number, idleCores: number, msPerResponse: number, freeCores = AUTOSCALE_FREE_CORES, saturation = true): boolean {
  if (meanElu < AUTOSCALE_ELU) return false;
  if (freeCores <= 0 || (saturation && meanElu >= SATURATED_ELU)) return true;
  if (idleCores < freeCores) return false;
  return idleCores >= 1 || msPerResponse >= SHARED_CORE_MIN_MS;
}

/** What one period saw. */
export interface Period {
  /** Mean event-loop utilisation of the active (accepting) front ends. */
  meanElu: number;
  /** Idle CPU over the machine, in cores. */
  idleCores: number;
  /** Responses all front ends finished in the period. */
  served: number;
  /** Front ends accepting connections, the main thread's included. */
  active: number;
  /** The fewest that must accept (--min-threads). */
  min: number;
  /** The most that may accept. */
  max: number;
}

export type Decision = 'add' | 'pause' | null;

/** The autoscaling policy's state, one period at a time. */
export class ScalePolicy {
  private period = 0;
  /** The busy periods in a row so far (the newest AUTOSCALE_SUSTAIN_PERIODS of them). */
  private readonly streak: Period[] = [];
  private idle = 0;
  private backoffUntil = 0;
  /** The wait after the next trial that does not pay. */
  private backoff = BACKOFF_PERIODS;
  private trial: { baseline: number; periods: number; served: number } | null = null;

  /**
   * `pauseUnderLoad`: a front end may be paused while connections arrive — true only when the kernel
   * moves the connections queued on a closed listening socket to another (io/kernel.ts). Without it a
   * pause resets them (measured: 17 connect resets in one 10 s run at 100 clients), so a front end is
   * tried only with a free core and one that does not pay stays until the server is idle.
   */
  constructor(
    private readonly freeCores = AUTOSCALE_FREE_CORES,
    private readonly pauseUnderLoad = true,
  ) {}

  /** Feeds one period; returns what to do now. */
  next(p: Period): Decision {
    this.period++;
    if (this.trial) return this.judge(p);
    this.idle = p.meanElu < IDLE_ELU ? this.idle + 1 : 0;
    if (this.idle >= IDLE_PERIODS) {
      // A pause in the load ends what failed trials taught: the next burst may be another load.
      this.backoffUntil = 0;
      this.backoff = BACKOFF_PERIODS;
      if (p.active > p.min) {
        this.idle = 0;
        return 'pause';
      }
    }
    if (p.meanElu < AUTOSCALE_ELU) this.streak.length = 0;
    else {
      this.streak.push(p);
      if (this.streak.length > AUTOSCALE_SUSTAIN_PERIODS) this.streak.shift();
    }
    if (this.streak.length < AUTOSCALE_SUSTAIN_PERIODS || p.active >= p.max || this.period < this.backoffUntil) return null;
    const mean = (f: (q: Period) => number): number => this.streak.reduce((a, q) => a + f(q), 0) / this.streak.length;
    // Loop time per response over the streak (a period's busy time is its mean utilisation times the
    // accepting front ends times its length).
    const busyMs = this.streak.reduce((a, q) => a + q.meanElu * q.active * AUTOSCALE_PERIOD_MS, 0);
    const served = this.streak.reduce((a, q) => a + q.served, 0);
    const msPerResponse = served > 0 ? busyMs / served : Infinity;
    if (!shouldAddFrontEnd(mean((q) => q.meanElu), mean((q) => q.idleCores), msPerResponse, this.freeCores, this.pauseUnderLoad)) return null;
    // The rate to beat: the busy periods only (the idle ones before a burst would flatter any trial).
    this.trial = { baseline: mean((q) => q.served), periods: 0, served: 0 };
    this.streak.length = 0;
    return 'add';
  }

  /** A start being tried: keep it if the rate rose enough, else pause it and back off. */
  private judge(p: Period): Decision {
    const t = this.trial as NonNullable<ScalePolicy['trial']>;
    t.periods++;
    if (t.periods <= TRIAL_SETTLE_PERIODS) return null;
    t.served += p.served;
    if (t.periods < TRIAL_SETTLE_PERIODS + TRIAL_EVAL_PERIODS) return null;
    this.trial = null;
    this.idle = 0;
    if (t.served / TRIAL_EVAL_PERIODS >= t.baseline * (1 + TRIAL_MIN_GAIN)) {
      this.backoff = BACKOFF_PERIODS;
      return null;
    }
    if (p.active <= p.min) return null;
    this.backoffUntil = this.period + this.backoff;
    this.backoff = Math.min(2 * this.backoff, MAX_BACKOFF_PERIODS);
    // Without connection migration it stays until the front ends go idle (then paused as idle).
    return this.pauseUnderLoad ? 'pause' : null;
  }

  /** The start asked for did not happen (it failed, or the server is closing): no trial to judge. */
  cancelTrial(): void {
    this.trial = null;
  }
}
