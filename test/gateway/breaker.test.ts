import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker, classifyFailure } from '../../src/fineract/breaker.js';
import { FineractNotFound, FineractRejected, FineractUnauthorized, FineractUnavailable } from '../../src/fineract/errors.js';
import { createFineractGateway, FineractNotSent, type FineractGateway } from '../../src/fineract/gateway.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { failure, hits, httpTo } from './helpers.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('CircuitBreaker', () => {
  it('opens after N failures in a row, fails fast, probes once after the cool-down, closes on success', () => {
    const c = clock();
    const b = new CircuitBreaker('primary', { consecutiveFailures: 3, coolDownMs: 1_000 }, { now: c.now });
    for (let i = 0; i < 3; i++) b.record(b.acquire()!, 'failure');
    expect(b.state).toBe('open');
    expect(b.acquire()).toBeNull();
    expect(b.canPass()).toBe(false);

    c.advance(1_000);
    expect(b.state).toBe('half-open');
    const probe = b.acquire()!;
    expect(probe.probe).toBe(true);
    expect(b.acquire()).toBeNull(); // one probe at a time
    b.record(probe, 'success');
    expect(b.state).toBe('closed');
    expect(b.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, opened: 1, rejected: 2 });
  });

  it('opens again for a full cool-down when the probe fails; an ignored probe frees the slot', () => {
    const c = clock();
    const b = new CircuitBreaker('primary', { consecutiveFailures: 1, coolDownMs: 500 }, { now: c.now });
    b.record(b.acquire()!, 'failure');
    c.advance(500);
    b.record(b.acquire()!, 'ignored'); // e.g. cut by the caller's deadline after 10 ms
    expect(b.state).toBe('half-open');
    b.record(b.acquire()!, 'failure');
    expect(b.state).toBe('open');
    c.advance(499);
    expect(b.state).toBe('open');
    c.advance(1);
    expect(b.state).toBe('half-open');
  });

  it('a success resets the run of failures', () => {
    const b = new CircuitBreaker('primary', { consecutiveFailures: 3, minimumCalls: 100 });
    for (let i = 0; i < 10; i++) {
      b.record(b.acquire()!, 'failure');
      b.record(b.acquire()!, 'failure');
      b.record(b.acquire()!, 'success');
    }
    expect(b.state).toBe('closed');
  });

  it('opens on the failure ratio in the window, and forgets calls older than the window', () => {
    const c = clock();
    const b = new CircuitBreaker(
      'primary',
      { consecutiveFailures: 100, failureRatio: 0.5, minimumCalls: 10, windowMs: 1_000 },
      { now: c.now },
    );
    for (let i = 0; i < 4; i++) {
      b.record(b.acquire()!, 'failure');
      b.record(b.acquire()!, 'success');
    }
    expect(b.state).toBe('closed'); // 8 calls: below minimumCalls
    c.advance(2_000); // all forgotten
    b.record(b.acquire()!, 'failure');
    b.record(b.acquire()!, 'success');
    expect(b.snapshot()).toMatchObject({ windowCalls: 2, windowFailures: 1 });
    for (let i = 0; i < 4; i++) {
      b.record(b.acquire()!, 'success');
      b.record(b.acquire()!, 'failure');
    }
    expect(b.state).toBe('open'); // the 10th call failed: 5 of 10 (judged on a failure, never on a success)
  });

  it('ignores results of calls let through before the state changed', () => {
    const c = clock();
    const b = new CircuitBreaker('primary', { consecutiveFailures: 1, coolDownMs: 100 }, { now: c.now });
    const slow = b.acquire()!;
    b.record(b.acquire()!, 'failure');
    expect(b.state).toBe('open');
    c.advance(100);
    b.record(slow, 'success'); // an old call ending now says nothing about the probe
    expect(b.state).toBe('half-open');
  });

  it('judges failures: unavailable fails, answers succeed, own refusals and short aborts are ignored', () => {
    expect(classifyFailure(new FineractUnavailable('500', 500), false, 5, 1_000)).toBe('failure');
    expect(classifyFailure(new FineractUnavailable('timeout', undefined, true), false, 5_000, 1_000)).toBe('failure');
    expect(classifyFailure(new FineractUnavailable('aborted', undefined, true), true, 50, 1_000)).toBe('ignored');
    expect(classifyFailure(new FineractUnavailable('aborted', undefined, true), true, 1_500, 1_000)).toBe('failure');
    expect(classifyFailure(new FineractUnavailable('in flight', 425), false, 5, 1_000)).toBe('ignored');
    expect(classifyFailure(new FineractNotSent('circuit open', 'GET /x'), false, 0, 1_000)).toBe('ignored');
    expect(classifyFailure(new FineractRejected('400', 400, 'x'), false, 5, 1_000)).toBe('success');
    expect(classifyFailure(new FineractNotFound('404'), false, 5, 1_000)).toBe('success');
    expect(classifyFailure(new FineractUnauthorized('401', 401), false, 5, 1_000)).toBe('success');
    expect(classifyFailure(new TypeError('bug'), false, 5, 1_000)).toBe('ignored');
  });
});

describe('breaker in the gateway, against the sandbox', () => {
  let sandbox: Sandbox;
  let gateway: FineractGateway;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterEach(async () => {
    await gateway.close();
    sandbox.control.reset();
    sandbox.control.clearRequests();
  });
  afterAll(() => sandbox.close());

  it('opens on 500s, sends nothing while open, probes after the cool-down, closes when Fineract recovers', async () => {
    gateway = createFineractGateway({
      primary: httpTo(sandbox),
      ratePerSecond: 100,
      maxConcurrent: 4,
      breaker: { consecutiveFailures: 3, coolDownMs: 300 },
    });
    sandbox.control.failMode = '500';
    for (let i = 0; i < 3; i++) {
      expect(await failure(gateway.request('GET', '/clients/1'))).toMatchObject({ kind: 'unavailable', httpStatus: 500 });
    }
    expect(gateway.stats().upstreams[0]).toMatchObject({ name: 'primary', state: 'open', opened: 1 });

    // Open: fail fast, nothing reaches Fineract, for reads and writes alike.
    const started = Date.now();
    for (const method of ['GET', 'POST'] as const) {
      const err = await failure(gateway.request(method, '/clients/1'));
      expect(err).toBeInstanceOf(FineractNotSent);
      expect(err).toMatchObject({ reason: 'circuit open', executed: false });
    }
    expect(Date.now() - started).toBeLessThan(50);
    expect(hits(sandbox)).toHaveLength(3);
    expect(gateway.stats().circuitRefused).toBe(2);

    // Half-open, still failing: exactly one probe goes through, concurrent calls fail fast.
    await sleep(320);
    expect(gateway.stats().upstreams[0]!.state).toBe('half-open');
    const burst = await Promise.allSettled([1, 2, 3].map(() => gateway.request('GET', '/clients/1')));
    expect(hits(sandbox)).toHaveLength(4);
    expect(burst.filter((r) => r.status === 'rejected' && r.reason instanceof FineractNotSent)).toHaveLength(2);
    expect(gateway.stats().upstreams[0]!.state).toBe('open');

    // Fineract recovers: the next probe closes the circuit and traffic flows.
    sandbox.control.failMode = 'none';
    await sleep(320);
    await expect(gateway.request('GET', '/clients/1')).resolves.toMatchObject({ id: 1 });
    expect(gateway.stats().upstreams[0]).toMatchObject({ state: 'closed', opened: 2 });
    await Promise.all([gateway.request('GET', '/clients/1'), gateway.request('GET', '/clients/2')]);
    expect(hits(sandbox)).toHaveLength(7);
  });

  it('counts connection resets, and not business errors', async () => {
    gateway = createFineractGateway({
      primary: httpTo(sandbox),
      ratePerSecond: 100,
      maxConcurrent: 4,
      breaker: { consecutiveFailures: 2 },
    });
    for (let i = 0; i < 5; i++) expect(await failure(gateway.request('GET', '/clients/999999'))).toBeInstanceOf(FineractNotFound);
    expect(gateway.stats().upstreams[0]!.state).toBe('closed');
    sandbox.control.failMode = 'reset';
    for (let i = 0; i < 2; i++) expect(await failure(gateway.request('GET', '/clients/1'))).toMatchObject({ kind: 'unavailable' });
    expect(gateway.stats().upstreams[0]!.state).toBe('open');
  });
});
