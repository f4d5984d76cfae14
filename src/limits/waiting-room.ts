import { RateLimited, type RefusalReason } from './rate-limited.js';

/**
 * The waiting room of one process's rate limiter: calls wait here, not in bottleneck, until a token is
 * granted. bottleneck cannot take a job out of its queue, and a job it starts costs a token even if its caller
 * gave up; so each call waits here with a timer at its start-by time, and a granted token goes to the best
 * call still waiting. A call that gave up costs nothing.
 *
 * - Three FIFO lists, writes before reads before low-priority reads: a write waits only behind the writes of its
 *   own process, a read behind writes and reads. A `low` read (a lookup of a number never matched to a customer,
 *   threat T28) waits behind every other call, so a flood of them never delays a returning customer's reads.
 * - A call that cannot start by its start-by time is refused (`queue deadline`): at that time, or at once
 *   when even the full rate could not reach it in time. A call that started is never cut.
 * - At most `maxQueued` calls wait; when full, a new call sheds the newest waiting call of a lower priority
 *   (low first, then read), and a call with nothing to shed is refused (`queue full`).
 *
 * Pure: no I/O, and time comes from the injected `Clock` (tests drive it by hand).
 */

export type Priority = 'write' | 'read' | 'low';

/** The priorities, first served first. */
const ORDER: readonly Priority[] = ['write', 'read', 'low'];
/** The priorities served no later than each (its own and those before it). */
const UP_TO: Record<Priority, readonly Priority[]> = { write: ['write'], read: ['write', 'read'], low: ORDER };
/** The priorities below each, the lowest first (shed first). */
const SHED: Record<Priority, readonly Priority[]> = { write: ['low', 'read'], read: ['low'], low: [] };

/** Time and timers, injected. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

/** The process clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface WaitingTask<T> {
  priority: Priority;
  /** Latest epoch-ms time the task may start. */
  startBy: number;
  /** `METHOD /path` or `sms <provider>`, for errors and logs (never a query string or personal data). */
  where: string;
  /** The caller's cancellation: aborted while waiting = refused like a missed start-by time. */
  signal?: AbortSignal;
  run: () => Promise<T>;
}

export interface WaitingRoomStats {
  queued: Record<Priority, number>;
  /** Calls of this process running now. */
  running: number;
  /** Calls of this process started since start-up. */
  started: number;
  /** Calls refused without being run, by reason. */
  refused: Record<RefusalReason, number>;
}

export interface WaitingRoomOptions {
  /** Calls per second the shared limit allows at most (to refuse at once a call that cannot be reached in time). */
  ratePerSecond: number;
  /** Calls waiting at most (default 1,000). */
  maxQueued?: number;
  clock?: Clock;
  /** Called when a call starts waiting (the limiter then asks for a token). */
  onWaiting?: () => void;
}

export interface WaitingRoom {
  /**
   * Waits for a token, then runs the task: its result, or `RateLimited` when it cannot start in time.
   * `blocked` is asked after the room's own first check (an aborted caller): a reason refuses at once.
   */
  wait<T>(task: WaitingTask<T>, blocked?: () => RefusalReason | undefined): Promise<T>;
  /** Refuses a call without queueing it, counted like the room's own refusals. */
  refuse<T>(reason: RefusalReason, where: string): Promise<T>;
  /** Calls waiting now. */
  waiting(): number;
  /**
   * Starts up to `n` calls in priority order (refusing those whose start-by time has passed): the promises of
   * the started calls, which settle when they finish (never reject).
   */
  startUpTo(n: number): Promise<void>[];
  /** Refuses every waiting call. */
  refuseAll(reason: RefusalReason): void;
  /** Resolves when no call runs, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
  stats(): WaitingRoomStats;
}

interface Waiter {
  priority: Priority;
  startBy: number;
  settled: boolean;
  timer: unknown;
  start(): Promise<void>;
  refuse(reason: RefusalReason): void;
}

export function createWaitingRoom(options: WaitingRoomOptions): WaitingRoom {
  const { ratePerSecond } = options;
  const maxQueued = options.maxQueued ?? 1_000;
  const clock = options.clock ?? systemClock;
  const lists: Record<Priority, Waiter[]> = { write: [], read: [], low: [] };
  const live: Record<Priority, number> = { write: 0, read: 0, low: 0 };
  const liveTotal = () => live.write + live.read + live.low;
  let running = 0;
  let started = 0;
  const refused: Record<RefusalReason, number> = { 'queue deadline': 0, 'queue full': 0, 'limiter unavailable': 0, closed: 0 };
  const idle: (() => void)[] = [];

  /** Removes settled waiters from the head of a list. */
  function trim(list: Waiter[]): void {
    let i = 0;
    while (i < list.length && list[i]!.settled) i++;
    if (i > 0) list.splice(0, i);
  }

  /** Drops refused waiters from the middle of a list once they outnumber the live ones (bounded memory). */
  function compact(list: Waiter[], liveCount: number): void {
    if (list.length < 2 * liveCount + 64) return;
    let j = 0;
    for (const w of list) if (!w.settled) list[j++] = w;
    list.length = j;
  }

  function takeNext(): Waiter | undefined {
    for (const p of ORDER) {
      const list = lists[p];
      trim(list);
      const w = list.shift();
      if (w) return w;
    }
    return undefined;
  }

  /** Live waiters that would start before a new `priority` call and cannot expire before `startBy`. */
  function aheadOf(priority: Priority, startBy: number): number {
    let n = 0;
    for (const p of UP_TO[priority]) {
      for (const w of lists[p]) if (!w.settled && w.startBy >= startBy) n++;
    }
    return n;
  }

  /** Sheds the newest waiting call of a priority below `priority`, the lowest first (to make room for it). */
  function shedBelow(priority: Priority): boolean {
    for (const p of SHED[priority]) {
      const list = lists[p];
      for (let i = list.length - 1; i >= 0; i--) {
        const w = list[i]!;
        if (!w.settled) {
          w.refuse('queue full');
          return true;
        }
      }
    }
    return false;
  }

  const refuse = <T>(reason: RefusalReason, where: string): Promise<T> => {
    refused[reason]++;
    return Promise.reject(new RateLimited(reason, where));
  };

  return {
    wait<T>(task: WaitingTask<T>, blocked?: () => RefusalReason | undefined): Promise<T> {
      if (task.signal?.aborted) return refuse('queue deadline', task.where);
      const block = blocked?.();
      if (block) return refuse(block, task.where);
      const left = task.startBy - clock.now();
      if (left < 0) return refuse('queue deadline', task.where);
      // Even at the full shared rate, with a full reservoir now, this call could not be reached in time.
      const reachable = ratePerSecond * (1 + Math.ceil(left / 1000));
      if (aheadOf(task.priority, task.startBy) >= reachable) return refuse('queue deadline', task.where);
      if (liveTotal() >= maxQueued && !shedBelow(task.priority)) return refuse('queue full', task.where);

      return new Promise<T>((resolve, reject) => {
        const leave = () => {
          w.settled = true;
          live[w.priority]--;
          clock.clearTimer(w.timer);
          task.signal?.removeEventListener('abort', onAbort);
        };
        const w: Waiter = {
          priority: task.priority,
          startBy: task.startBy,
          settled: false,
          timer: undefined,
          refuse(reason) {
            if (w.settled) return;
            leave();
            refused[reason]++;
            compact(lists[w.priority], live[w.priority]);
            reject(new RateLimited(reason, task.where));
          },
          async start() {
            if (w.settled) return;
            leave();
            running++;
            started++;
            try {
              resolve(await task.run());
            } catch (err) {
              reject(err);
            } finally {
              running--;
              if (running === 0) idle.splice(0).forEach((f) => f());
            }
          },
        };
        const onAbort = () => w.refuse('queue deadline');
        task.signal?.addEventListener('abort', onAbort, { once: true });
        w.timer = clock.setTimer(() => w.refuse('queue deadline'), left);
        live[w.priority]++;
        lists[w.priority].push(w);
        options.onWaiting?.();
      });
    },

    refuse,

    waiting: liveTotal,

    startUpTo(n: number): Promise<void>[] {
      const runs: Promise<void>[] = [];
      while (runs.length < n) {
        let w = takeNext();
        while (w && clock.now() > w.startBy) {
          w.refuse('queue deadline'); // its timer has not fired yet
          w = takeNext();
        }
        if (!w) break;
        runs.push(w.start()); // off the live count at once, before the next token is asked for
      }
      return runs;
    },

    refuseAll(reason: RefusalReason): void {
      for (const p of ORDER) {
        for (const w of lists[p].splice(0)) if (!w.settled) w.refuse(reason);
      }
    },

    idle(timeoutMs: number): Promise<void> {
      if (running === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = clock.setTimer(resolve, timeoutMs);
        idle.push(() => {
          clock.clearTimer(timer);
          resolve();
        });
      });
    },

    stats: () => ({ queued: { ...live }, running, started, refused: { ...refused } }),
  };
}
