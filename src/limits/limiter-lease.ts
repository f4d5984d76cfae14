import type { Clock, WaitingRoom } from './waiting-room.js';

/**
 * The shared limiter's leases (limiter.ts, layer 3): one bottleneck grant reserves a batch of tokens, sized to
 * this process's recent demand; the tokens the waiting calls do not take stay here until the lease lapses, and
 * calls arriving meanwhile start from them with no Redis round trip. The grant's running slots are freed once
 * the lease has lapsed and its calls have ended.
 */

export interface LeaseOptions {
  room: WaitingRoom;
  clock: Clock;
  /** A grant's tokens at most. */
  maxBatch: number;
  /** The running slots bottleneck holds across processes. */
  sharedConcurrent: number;
  /** How long after its due time a grant's tokens stay usable. */
  leaseMs: number;
  /** The clock guard says this process's "now" must not reach bottleneck's scripts. */
  skewed: () => boolean;
  /** Leaves Redis (bottleneck's `free` must not run with a skewed "now"). */
  suspend: () => void;
  /** `count` calls were started from a lease just now. */
  onStarts: (count: number) => void;
}

export interface Lease {
  /** Tokens not used yet. */
  left: number;
  /** Calls started from it and still running. */
  running: number;
  timer: unknown;
  /** Settles the bottleneck grant, which frees its running slots. */
  release: () => void;
  released: boolean;
}

export interface Leases {
  /** A call came to wait: counted in the demand the next lease is sized for. */
  noteArrival(): void;
  /** Tokens to ask for when `waiting` calls wait. */
  size(waiting: number): number;
  /** A grant of `weight` tokens came: it becomes the current lease (the one before it lapses). */
  open(weight: number, release: () => void): Lease;
  /** The lease's unused tokens are given up (its time is over, or the limiter closes). */
  lapse(l: Lease): void;
  /** The current lease, if any, lapses. */
  lapseCurrent(): void;
  /** Starts waiting calls from the current lease's tokens; how many it started. */
  drain(): number;
  /** Tokens granted but never used. */
  wasted(): number;
}

const DEMAND_DECAY_MS = 1_000;

export function createLeases(options: LeaseOptions): Leases {
  const { room, clock, maxBatch, sharedConcurrent, leaseMs, skewed, suspend, onStarts } = options;
  const now = clock.now;
  let wastedTokens = 0;

  /** Calls that came to wait lately, decayed over about a second: what the next lease is sized for. */
  let demand = 0;
  let demandAt = now();
  function noteArrival(): void {
    const t = now();
    demand = demand * Math.exp(-Math.max(0, t - demandAt) / DEMAND_DECAY_MS) + 1;
    demandAt = t;
  }
  /**
   * Tokens to ask for: what waits now, or what the recent demand will want within one lease, whichever is more.
   * Tokens for calls not here yet hold running slots idle, so they take at most a quarter of `maxConcurrent`:
   * the other processes keep their share.
   */
  const speculativeCap = Math.max(1, Math.floor(sharedConcurrent / 4));
  function leaseSize(waiting: number): number {
    const perSecond = demand * Math.exp(-Math.max(0, now() - demandAt) / DEMAND_DECAY_MS) * (1_000 / DEMAND_DECAY_MS);
    const expected = Math.min(speculativeCap, Math.ceil((perSecond * leaseMs) / 1_000));
    return Math.min(maxBatch, Math.max(waiting, expected, 1));
  }

  /** The lease whose tokens new calls take; earlier ones only wait for their calls to end. */
  let lease: Lease | undefined;

  function finishIfDone(l: Lease): void {
    if (l.released || l.left > 0 || l.running > 0) return;
    l.released = true;
    // bottleneck's `free` would run with a skewed "now": leave Redis instead; the grant's expiration frees its slots.
    if (skewed()) return suspend();
    l.release();
  }
  function lapse(l: Lease): void {
    clock.clearTimer(l.timer);
    wastedTokens += l.left;
    l.left = 0;
    if (lease === l) lease = undefined;
    finishIfDone(l);
  }
  function drainLease(): number {
    const l = lease;
    if (!l || room.waiting() === 0) return 0;
    const runs = room.startUpTo(l.left);
    onStarts(runs.length);
    l.left -= runs.length;
    l.running += runs.length;
    for (const run of runs) {
      void run.then(() => {
        l.running--;
        finishIfDone(l);
      });
    }
    if (l.left === 0) lapse(l);
    return runs.length;
  }

  return {
    noteArrival,
    size: leaseSize,
    open(weight, release) {
      if (lease) lapse(lease);
      const l: Lease = { left: weight, running: 0, timer: undefined, release, released: false };
      lease = l;
      return l;
    },
    lapse,
    lapseCurrent() {
      if (lease) lapse(lease);
    },
    drain: drainLease,
    wasted: () => wastedTokens,
  };
}
