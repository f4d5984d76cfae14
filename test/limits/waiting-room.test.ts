/**
 * The waiting room of the rate limiter, alone, on a hand-driven clock: writes before reads before low-priority
 * reads, start-by times
 * (refused when they come, or at once when the rate could never reach the call), the caller's abort,
 * shedding the newest read for a write when full, and "nothing runs that was refused". No Redis, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { RateLimited } from '../../src/limits/rate-limited.js';
import { createWaitingRoom, type Clock, type Priority, type WaitingRoomOptions } from '../../src/limits/waiting-room.js';

/** A clock whose time moves only when told, firing due timers in order. */
function fakeClock(start = 1_000_000) {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimer: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = until;
  };
  return { clock, advance, pending: () => timers.size };
}

function room(options: Partial<WaitingRoomOptions> = {}) {
  const time = fakeClock();
  const r = createWaitingRoom({ ratePerSecond: 10, maxQueued: 100, clock: time.clock, ...options });
  const order: string[] = [];
  const task = (name: string, priority: Priority, startInMs = 5_000, signal?: AbortSignal) =>
    r.wait({
      priority,
      startBy: time.clock.now() + startInMs,
      where: `GET /${name}`,
      ...(signal ? { signal } : {}),
      run: async () => void order.push(name),
    });
  return { r, time, order, task };
}

/** The reason a promise was refused with, or 'ran'. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ran',
    (e: unknown) => (e instanceof RateLimited ? e.reason : `other: ${String(e)}`),
  );

describe('waiting room', () => {
  it('should start writes before reads, each in the order they came', async () => {
    const { r, order, task } = room();
    const all = [task('r1', 'read'), task('w1', 'write'), task('r2', 'read'), task('w2', 'write')];
    expect(r.waiting()).toBe(4);
    await Promise.all(r.startUpTo(4));
    await Promise.all(all);
    expect(order).toEqual(['w1', 'w2', 'r1', 'r2']);
    expect(r.stats()).toMatchObject({ queued: { write: 0, read: 0, low: 0 }, running: 0, started: 4 });
  });

  it('should start a low-priority read after every read and write, even one that came later (threat T28)', async () => {
    const { r, order, task } = room();
    const all = [task('l1', 'low'), task('r1', 'read'), task('l2', 'low'), task('w1', 'write'), task('r2', 'read')];
    expect(r.stats().queued).toEqual({ write: 1, read: 2, low: 2 });
    await Promise.all(r.startUpTo(5));
    await Promise.all(all);
    expect(order).toEqual(['w1', 'r1', 'r2', 'l1', 'l2']);
  });

  it('should not count low-priority reads ahead of a read, but count reads ahead of a low one', async () => {
    const { r, task } = room({ ratePerSecond: 2 });
    // 2/s with 500 ms left reaches at most 4 calls: four low reads waiting do not stand in a read's way...
    const lows = ['l1', 'l2', 'l3', 'l4'].map((n) => outcome(task(n, 'low', 10_000)));
    const read = outcome(task('r', 'read', 500));
    // ...but four reads and writes stand in a low one's way.
    const more = ['r2', 'r3', 'r4'].map((n) => outcome(task(n, 'read', 10_000)));
    expect(await outcome(task('late', 'low', 500))).toBe('queue deadline');
    await Promise.all(r.startUpTo(10));
    expect(await read).toBe('ran');
    expect(await Promise.all([...lows, ...more])).toEqual(['ran', 'ran', 'ran', 'ran', 'ran', 'ran', 'ran']);
  });

  it('should refuse a waiting call when its start-by time comes, and never run it', async () => {
    const { r, time, order, task } = room();
    const late = outcome(task('late', 'read', 300));
    const other = outcome(task('other', 'read', 5_000));
    time.advance(299);
    expect(r.waiting()).toBe(2);
    time.advance(1);
    expect(await late).toBe('queue deadline');
    expect(r.waiting()).toBe(1);
    await Promise.all(r.startUpTo(5));
    expect(await other).toBe('ran');
    expect(order).toEqual(['other']);
    expect(r.stats().refused['queue deadline']).toBe(1);
    expect(time.pending()).toBe(0); // no timer left behind
  });

  it('should refuse a call past its start-by time when a token comes before its timer', async () => {
    const { r, time, order, task } = room();
    const p = outcome(task('x', 'read', 100));
    // The clock moves past the start-by time without firing timers (a busy event loop).
    const moved = time.clock.now() + 150;
    time.clock.now = () => moved;
    expect(r.startUpTo(1)).toEqual([]);
    expect(await p).toBe('queue deadline');
    expect(order).toEqual([]);
  });

  it('should refuse at once a call the full rate could not reach before its start-by time', async () => {
    const { r, task } = room({ ratePerSecond: 2 });
    const waiting = [task('a', 'read', 10_000), task('b', 'read', 10_000), task('c', 'read', 10_000), task('d', 'read', 10_000)];
    // 2/s with 500 ms left reaches at most 2 x (1 + 1) = 4 calls: the 5th cannot start in time.
    expect(await outcome(task('e', 'read', 500))).toBe('queue deadline');
    // A write goes ahead of the reads: it is reachable.
    const w = task('w', 'write', 500);
    expect(r.waiting()).toBe(5);
    await Promise.all(r.startUpTo(5));
    expect(await outcome(w)).toBe('ran');
    await Promise.all(waiting);
  });

  it('should shed the newest read for a write when full, and refuse a read when full', async () => {
    const { r, order, task } = room({ maxQueued: 3 });
    const r1 = outcome(task('r1', 'read'));
    const r2 = outcome(task('r2', 'read'));
    const r3 = outcome(task('r3', 'read'));
    expect(await outcome(task('r4', 'read'))).toBe('queue full');
    const w = outcome(task('w', 'write'));
    expect(await r3).toBe('queue full'); // the newest read made room
    await Promise.all(r.startUpTo(10));
    expect([await w, await r1, await r2]).toEqual(['ran', 'ran', 'ran']);
    expect(order).toEqual(['w', 'r1', 'r2']);
    expect(r.stats().refused['queue full']).toBe(2);
  });

  it('should shed the newest low-priority read for a read or a write when full, before any read', async () => {
    const { r, order, task } = room({ maxQueued: 3 });
    const r1 = outcome(task('r1', 'read'));
    const l1 = outcome(task('l1', 'low'));
    const l2 = outcome(task('l2', 'low'));
    expect(await outcome(task('l3', 'low'))).toBe('queue full');
    const r2 = outcome(task('r2', 'read'));
    expect(await l2).toBe('queue full'); // the newest low read made room for a read
    const w = outcome(task('w', 'write'));
    expect(await l1).toBe('queue full'); // then for a write, before any read
    await Promise.all(r.startUpTo(10));
    expect([await w, await r1, await r2]).toEqual(['ran', 'ran', 'ran']);
    expect(order).toEqual(['w', 'r1', 'r2']);
  });

  it("should refuse a call when its caller's signal aborts, before or while it waits", async () => {
    const { r, order, task } = room();
    expect(await outcome(task('gone', 'read', 5_000, AbortSignal.abort()))).toBe('queue deadline');
    const controller = new AbortController();
    const waiting = outcome(task('leaves', 'read', 5_000, controller.signal));
    controller.abort();
    expect(await waiting).toBe('queue deadline');
    expect(r.startUpTo(1)).toEqual([]);
    expect(order).toEqual([]);
  });

  it('should refuse at once when blocked, and refuse every waiter on refuseAll', async () => {
    const { r, time, task } = room();
    expect(
      await outcome(
        r.wait({ priority: 'read', startBy: time.clock.now() + 1_000, where: 'GET /x', run: async () => 1 }, () => 'limiter unavailable'),
      ),
    ).toBe('limiter unavailable');
    const a = outcome(task('a', 'write'));
    const b = outcome(task('b', 'read'));
    r.refuseAll('closed');
    expect([await a, await b]).toEqual(['closed', 'closed']);
    expect(r.stats().refused).toEqual({ 'queue deadline': 0, 'queue full': 0, 'limiter unavailable': 1, closed: 2 });
    expect(time.pending()).toBe(0);
  });

  it("should pass a started call's own error through, and tell when nothing runs any more", async () => {
    const { r, time } = room();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const failing = r.wait({
      priority: 'write',
      startBy: time.clock.now() + 1_000,
      where: 'POST /x',
      run: () => Promise.reject(new Error('upstream said no')),
    });
    const slow = r.wait({ priority: 'write', startBy: time.clock.now() + 1_000, where: 'POST /y', run: () => gate });
    const started = r.startUpTo(2);
    expect(started).toHaveLength(2);
    await expect(failing).rejects.toThrow('upstream said no');
    expect(r.stats().running).toBe(1);
    const idle = r.idle(60_000);
    release();
    await idle;
    await slow;
    expect(r.stats().running).toBe(0);
  });

  it('should stop waiting for running calls after the idle timeout', async () => {
    const { r, time } = room();
    void r.wait({ priority: 'write', startBy: time.clock.now() + 1_000, where: 'POST /stuck', run: () => new Promise(() => undefined) });
    expect(r.startUpTo(1)).toHaveLength(1);
    const idle = r.idle(5_000);
    time.advance(5_000);
    await idle;
    expect(r.stats().running).toBe(1);
  });
});
