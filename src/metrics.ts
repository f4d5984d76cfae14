import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NextFunction, Request, Response } from 'express';
import type { FineractGateway } from './fineract/gateway.js';
import type { JobQueue } from './jobs/queue.js';
import { refusalOf } from './limits/refusals.js';

/**
 * Prometheus metrics for `GET /metrics`: request counts and latencies per route (never per number or
 * session: no personal data in labels, threat T19), the Fineract gateway's queue, refusals and breaker
 * states, and the process defaults.
 */
export interface Metrics {
  registry: Registry;
  /** Express middleware timing every request by route pattern and status. */
  middleware(req: Request, res: Response, next: NextFunction): void;
}

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface MetricsOptions {
  gateway?: FineractGateway;
  /** The job queue, for its depth. */
  queue?: JobQueue;
  /** Lookups of unknown numbers refused by FINERACT_UNKNOWN_LOOKUP_SHARE since start. */
  unknownLookupsRefused?: () => number;
}

/** Channel and hook routes: a 403 there is a refused key or signature, counted even when no reason was marked. */
const DOOR = /^\/(channels|hooks)\//;

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kiunga_' });
  const requests = new Counter({
    name: 'kiunga_http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kiunga_http_request_duration_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'kiunga_refused_requests_total',
    help:
      'Channel and hook requests refused before any work, by route and reason: a missing or wrong key or signature ' +
      '(403), or an abuse limit (number limit, source limit).',
    labelNames: ['route', 'reason'],
    registers: [registry],
  });
  const unknownLookupsRefused = options.unknownLookupsRefused;
  if (unknownLookupsRefused) {
    new Gauge({
      name: 'kiunga_unknown_lookups_refused',
      help: 'Lookups of numbers never matched to a customer refused by FINERACT_UNKNOWN_LOOKUP_SHARE (since start).',
      registers: [registry],
      collect() {
        this.set(unknownLookupsRefused());
      },
    });
  }
  const queue = options.queue;
  if (queue) {
    new Gauge({
      name: 'kiunga_jobs_waiting',
      help: 'Jobs not started yet (SMS, calls, transfer resolution, hook alerts), by state: waiting (due now), delayed (later).',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        try {
          const counts = await queue.counts();
          this.set({ state: 'waiting' }, counts.waiting);
          this.set({ state: 'delayed' }, counts.delayed);
        } catch {
          // Redis unavailable: keep the last value rather than fail the whole scrape.
        }
      },
    });
  }
  const gateway = options.gateway;
  if (gateway) {
    new Gauge({
      name: 'kiunga_fineract_queued',
      help: 'Fineract calls waiting in this process, by priority.',
      labelNames: ['priority'],
      registers: [registry],
      collect() {
        const { queued } = gateway.stats().limiter;
        this.set({ priority: 'write' }, queued.write);
        this.set({ priority: 'read' }, queued.read);
      },
    });
    new Gauge({
      name: 'kiunga_fineract_running',
      help: 'Fineract calls in flight from this process.',
      registers: [registry],
      collect() {
        this.set(gateway.stats().limiter.running);
      },
    });
    new Gauge({
      name: 'kiunga_fineract_refused',
      help: 'Fineract calls refused without being sent, by reason (since start).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        const stats = gateway.stats();
        for (const [reason, n] of Object.entries(stats.limiter.refused)) this.set({ reason }, n);
        this.set({ reason: 'circuit open' }, stats.circuitRefused);
      },
    });
    new Gauge({
      name: 'kiunga_fineract_breaker_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open.',
      labelNames: ['upstream'],
      registers: [registry],
      collect() {
        for (const u of gateway.stats().upstreams) this.set({ upstream: u.name }, BREAKER_STATES[u.state]);
      },
    });
  }
  return {
    registry,
    middleware(req, res, next) {
      const end = duration.startTimer();
      res.on('finish', () => {
        // The matched route pattern, never the raw path (which may hold secrets or ids).
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        end({ route });
        requests.inc({ route, status: String(res.statusCode) });
        const reason = refusalOf(res) ?? (res.statusCode === 403 && DOOR.test(req.path) ? 'forbidden' : undefined);
        if (reason) refused.inc({ route, reason });
      });
      next();
    },
  };
}
