/**
 * The clock guard (docs/resilience.md, F2 and F3) on a real Redis: a process whose wall clock is off Redis's
 * by more than CLOCK_SKEW_MAX_MS says so within one switch-board poll, refuses Fineract calls without running
 * a single bottleneck script (bottleneck hands each script the caller's clock), answers /readyz 503 `clock`,
 * and recovers by itself once its clock is right.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createRedisStore, type RedisStore } from '../../src/session/redis-store.js';
import { createLogger } from '../../src/logger.js';
import { SwitchBoard } from '../../src/control/switch-board.js';
import { ClockGuard } from '../../src/control/clock-guard.js';
import { REDIS_URL, LogCapture, startTestServer, atSession, type TestServer } from '../helpers/server.js';

const TWENTY_MINUTES = 20 * 60_000;
const closers: (() => Promise<void> | void)[] = [];
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** Redis's MONITOR through `redis-cli`: the commands clients sent whose line contains `needle`. */
async function monitor(needle: string): Promise<{ lines: string[]; stop(): void }> {
  const child: ChildProcess = spawn('redis-cli', ['-u', REDIS_URL, 'monitor'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let rest = '';
  const started = once(child.stdout!, 'data'); // "OK": monitoring from here on
  child.stdout!.on('data', (chunk: Buffer) => {
    const all = (rest + chunk.toString('utf8')).split('\n');
    rest = all.pop() ?? '';
    for (const line of all) if (line.includes(needle) && !/ lua\]/.test(line)) lines.push(line);
  });
  await started;
  const stop = () => void child.kill();
  closers.push(stop);
  return { lines, stop };
}

async function gaugeValue(guard: ClockGuard): Promise<number | undefined> {
  const registry = new Registry();
  for (const m of guard.metrics) registry.registerMetric(m);
  const [metric] = await registry.getMetricsAsJSON();
  return metric?.values[0]?.value;
}

describe('clock guard on the switch board poll', () => {
  it('should see a step within one poll, in both directions, and clear it when the clock is right again', async () => {
    const logs = new LogCapture();
    const logger = createLogger('info', logs);
    const store: RedisStore = createRedisStore(REDIS_URL, { logger });
    closers.push(() => store.close());
    let offset = 0;
    const guard = new ClockGuard({ maxSkewMs: 1000, logger, wallNow: () => Date.now() + offset });
    closers.push(() => guard.close());
    const changes: boolean[] = [];
    guard.onChange((ok) => changes.push(ok));
    const board = new SwitchBoard({
      store,
      prefix: `kiunga-test-${randomBytes(4).toString('hex')}`,
      logger,
      pollMs: 100,
      onServerTime: (ms, rtt) => guard.observe(ms, rtt),
    });
    closers.push(() => board.close());
    await board.start();
    // This machine and its Redis share a clock: well within the threshold.
    expect(Math.abs(guard.skewMs()!)).toBeLessThan(500);
    expect(guard.ok()).toBe(true);

    for (const step of [TWENTY_MINUTES, -TWENTY_MINUTES]) {
      offset = step;
      await sleep(250); // a poll or two
      expect(guard.ok()).toBe(false);
      expect(Math.round((await gaugeValue(guard))! / 60)).toBe(step / 60_000);
      offset = 0;
      await sleep(250);
      expect(guard.ok()).toBe(true);
    }
    expect(changes).toEqual([false, true, false, true]);
    const errors = logs.lines.filter((l) => /clock skewed/.test(l));
    expect(errors).toHaveLength(2); // once per change, not once per poll
    expect(JSON.parse(errors[0]!)).toMatchObject({ level: 50 });
  });

  it('should see a step at once, before the next poll: Redis time is carried by the monotonic clock', () => {
    let wall = 1_000_000;
    let mono = 0;
    const guard = new ClockGuard({ maxSkewMs: 1000, wallNow: () => wall, monoNow: () => mono, watchMs: 0 });
    expect(guard.skewMs()).toBeUndefined();
    expect(guard.ok()).toBe(true); // nothing known yet: nothing refused
    guard.observe(1_000_000 - 40, 80); // Redis read its clock mid-trip: 40 ms ago + 40 ms = now
    expect(guard.skewMs()).toBe(0);
    wall += 5_000;
    mono += 5_000;
    expect(guard.skewMs()).toBe(0);
    wall += TWENTY_MINUTES; // an NTP step: the wall clock jumps, the monotonic one does not
    expect(guard.ok()).toBe(false);
    expect(guard.serverNow()).toBe(1_005_000);
    // A sample slower than the threshold cannot tell a skew from the trip: ignored.
    guard.observe(wall, 5_000);
    expect(guard.ok()).toBe(false);
    wall -= TWENTY_MINUTES;
    expect(guard.ok()).toBe(true);
  });
});

describe('a Kiunga process whose clock is 20 minutes ahead', () => {
  let server: TestServer;

  it('should refuse Fineract calls without a limiter script, answer /readyz clock, and recover', async () => {
    server = await startTestServer({ REDIS_PREFIX: `kiunga-test-${randomBytes(4).toString('hex')}` });
    closers.push(() => server.close());
    const AMINA = '+254711000001';
    const before = atSession(server, AMINA);
    expect((await before.send()).body).toMatch(/^CON Welcome Amina/);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    // Every bottleneck key of this process's limiters (Fineract, SMS, calls) starts with b_{<prefix>-.
    const watch = await monitor(`b_{${server.config.redisPrefix}-`);
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + TWENTY_MINUTES);
    await sleep(600); // a few switch polls, and bottleneck's own timers, had they been left running

    const hop = await atSession(server, '+254711000002').send(); // a lookup in Fineract
    expect(hop.status).toBe(200);
    expect(hop.body).toBe('END Sorry, the service is not available right now. Please try again later.');
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', clock: 'skewed' });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(Math.round(Number(/^kiunga_clock_skew_seconds (\S+)$/m.exec(metrics)?.[1]))).toBe(1200);
    await sleep(300);
    watch.stop();
    expect(watch.lines).toEqual([]);
    expect(server.logs.lines.filter((l) => /clock skewed/.test(l))).toHaveLength(1);

    vi.mocked(Date.now).mockRestore();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(100);
      status = (await fetch(`${server.url}/readyz`)).status;
    }
    expect(status).toBe(200);
    let body = '';
    for (let i = 0; i < 30 && !body.startsWith('CON Welcome'); i++) {
      body = (await atSession(server, AMINA).send()).body;
      if (!body.startsWith('CON Welcome')) await sleep(100);
    }
    expect(body).toMatch(/^CON Welcome Amina/);
  });
});
