import { Gauge, type Metric } from 'prom-client';
import type { Logger } from 'pino';

/**
 * The clock guard (docs/resilience.md, findings F2 and F3): is this process's wall clock close enough to
 * Redis's own clock for the shared state that trusts callers' clocks?
 *
 * bottleneck's clustered scripts and bullmq's delayed jobs take "now" from the calling process: one process
 * whose clock steps writes times that stop or shift work for every process. The guard compares this process's
 * wall clock with Redis `TIME`, read in the switch board's poll (no extra round trip), and says the clock is
 * skewed while the difference exceeds `maxSkewMs`. Callers then leave that shared state alone (the limiter
 * refuses calls, the job queue stops working and dates new jobs by Redis), /readyz answers 503 `clock`, and
 * everything resumes by itself once a read shows the clock right again.
 *
 * Between two reads the guard does not wait for the next one: each sample fixes Redis's time against the
 * monotonic clock, so `ok()` compares the wall clock of this very moment with Redis's time carried forward
 * monotonically. A step is seen by the first check after it (the guard checks every 20 ms by itself), not a
 * poll later. A script bottleneck ran in those milliseconds may still have stored the wrong time: the limiter
 * therefore re-creates bottleneck's keys when it resumes (`limits/bottleneck-tokens.ts`).
 */

export interface ClockGuardOptions {
  /** CLOCK_SKEW_MAX_MS: larger differences between the wall clock and Redis's clock count as skewed. */
  maxSkewMs: number;
  logger?: Logger;
  /** The wall clock checked (default `Date.now`; tests shift it). */
  wallNow?: () => number;
  /** The monotonic clock that carries Redis's time between samples (default `performance.now`). */
  monoNow?: () => number;
  /**
   * How often the guard checks by itself between samples (default 20 ms; 0: only when asked): bottleneck also
   * runs scripts on its own (a waiting job's registration when capacity is announced), so a step must be seen
   * before one of those, not a poll later. A check is two clock reads.
   */
  watchMs?: number;
}

/** What the limiter and the job queue need of the guard. */
export interface ClockGate {
  /** The wall clock may be used for shared state now (true until Redis's time was first read). */
  ok(): boolean;
  /** `listener(ok)` on every change, after the check that saw it. */
  onChange(listener: (ok: boolean) => void): void;
  /** Redis's time now, carried by the monotonic clock from the last sample; the wall clock before the first. */
  serverNow(): number;
}

export class ClockGuard implements ClockGate {
  /** `kiunga_clock_skew_seconds`, registered by the app on /metrics. */
  readonly metrics: Metric[];
  private readonly wallNow: () => number;
  private readonly monoNow: () => number;
  /** Redis's time at the monotonic instant `baseMono` (undefined before the first usable sample). */
  private baseServer: number | undefined;
  private baseMono = 0;
  private skewed = false;
  private readonly listeners: ((ok: boolean) => void)[] = [];
  private readonly watch: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClockGuardOptions) {
    if (!(options.maxSkewMs > 0)) throw new RangeError(`maxSkewMs must be positive, got ${options.maxSkewMs}`);
    this.wallNow = options.wallNow ?? (() => Date.now());
    this.monoNow = options.monoNow ?? (() => performance.now());
    const gauge = new Gauge({
      name: 'kiunga_clock_skew_seconds',
      help: "This process's wall clock minus Redis's clock (allowing for half the round trip); absent before the first read.",
      registers: [],
      collect: () => {
        const skew = this.skewMs();
        if (skew !== undefined) gauge.set(skew / 1000);
      },
    });
    this.metrics = [gauge];
    const watchMs = options.watchMs ?? 20;
    if (watchMs > 0) {
      this.watch = setInterval(() => void this.check(), watchMs);
      this.watch.unref();
    }
  }

  close(): void {
    clearInterval(this.watch);
  }

  /**
   * A Redis `TIME` answer, `serverMs`, that took `rttMs` (monotonic) to come back, read just now. The server
   * read its clock somewhere in the round trip; its middle is assumed, so the error is at most rtt/2. A sample
   * slower than the threshold could not tell a skew from the trip and is ignored.
   */
  observe(serverMs: number, rttMs: number): void {
    if (!Number.isFinite(serverMs) || !(rttMs >= 0) || rttMs > this.options.maxSkewMs) return;
    this.baseMono = this.monoNow();
    this.baseServer = serverMs + rttMs / 2;
    this.check();
  }

  /** Redis's time now (the wall clock before the first sample). */
  serverNow(): number {
    return this.baseServer === undefined ? this.wallNow() : this.baseServer + (this.monoNow() - this.baseMono);
  }

  /** Wall clock minus Redis's clock, now; undefined before the first sample. */
  skewMs(): number | undefined {
    return this.baseServer === undefined ? undefined : this.wallNow() - this.serverNow();
  }

  ok(): boolean {
    return !this.check();
  }

  onChange(listener: (ok: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Re-evaluates the skew; logs and tells the listeners when the verdict changes. True while skewed. */
  private check(): boolean {
    const skew = this.skewMs();
    const skewed = skew !== undefined && Math.abs(skew) > this.options.maxSkewMs;
    if (skewed === this.skewed) return skewed;
    this.skewed = skewed;
    const fields = { skewMs: Math.round(skew ?? 0), maxSkewMs: this.options.maxSkewMs };
    if (skewed)
      this.options.logger?.error(
        fields,
        "clock skewed against Redis: not ready, no Fineract or SMS calls and no job work until it is right (set the host's NTP to slew)",
      );
    else this.options.logger?.info(fields, 'clock agrees with Redis again: resuming');
    // Listeners act on the limiter and the queue; never inside the caller's own check.
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(!skewed);
    });
    return skewed;
  }
}
