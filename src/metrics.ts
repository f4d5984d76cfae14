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
  /** The key numbers the operator console shows (`GET /admin/summary`), read from this registry. */
  summary(): Promise<{ numbers: SummaryNumber[] }>;
}

export interface SummaryNumber {
  key: string;
  label: string;
  /** null when no such metric is registered here (its module is not configured in this process). */
  value: number | null;
  /** The value split by the metric's label, when it has one. */
  by?: Record<string, number>;
}

/**
 * What the console's "Key numbers" table shows: the metric, the label it splits by, and how its series
 * combine into one number (`sum`, or `max` for states and sequence numbers, where a sum means nothing).
 */
const SUMMARY: { key: string; label: string; metric: string; by?: string; combine?: 'max' }[] = [
  { key: 'sessions', label: 'Active sessions', metric: 'kiunga_sessions_active', by: 'channel' },
  { key: 'hops', label: 'Hops answered', metric: 'kiunga_hops_total', by: 'outcome' },
  { key: 'fineract', label: 'Fineract calls', metric: 'kiunga_fineract_requests_total', by: 'outcome' },
  {
    key: 'breakers',
    label: 'Fineract breaker (0 closed, 1 half-open, 2 open)',
    metric: 'kiunga_fineract_breaker_state',
    by: 'upstream',
    combine: 'max',
  },
  { key: 'otpSent', label: 'One-time codes sent', metric: 'kiunga_otp_sent_total', by: 'purpose' },
  { key: 'otpFailed', label: 'One-time codes failed', metric: 'kiunga_otp_failed_total', by: 'reason' },
  { key: 'lockouts', label: 'PIN lockouts', metric: 'kiunga_pin_lockouts_total', by: 'kind' },
  { key: 'jobs', label: 'Jobs waiting', metric: 'kiunga_jobs_waiting', by: 'state' },
  { key: 'switchesOff', label: 'Switches off', metric: 'kiunga_switch_off', by: 'scope' },
  { key: 'auditHead', label: 'Audit head sequence', metric: 'kiunga_audit_head_seq', combine: 'max' },
  { key: 'uncertain', label: 'Uncertain transfers', metric: 'kiunga_transfers_uncertain' },
];

/** The console's key numbers from `registry` (collecting gauges as a scrape does). */
async function summaryOf(registry: Registry): Promise<{ numbers: SummaryNumber[] }> {
  const numbers: SummaryNumber[] = [];
  for (const item of SUMMARY) {
    const metric = registry.getSingleMetric(item.metric);
    if (!metric) {
      numbers.push({ key: item.key, label: item.label, value: null });
      continue;
    }
    const values = (await metric.get()).values;
    const combine = (xs: number[]) => (item.combine === 'max' ? Math.max(0, ...xs) : xs.reduce((a, b) => a + b, 0));
    const number: SummaryNumber = { key: item.key, label: item.label, value: combine(values.map((v) => v.value)) };
    if (item.by) {
      const groups: Record<string, number[]> = {};
      for (const v of values) (groups[String(v.labels[item.by] ?? '')] ??= []).push(v.value);
      number.by = Object.fromEntries(Object.entries(groups).map(([k, xs]) => [k, combine(xs)]));
    }
    numbers.push(number);
  }
  return { numbers };
}

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface MetricsOptions {
  gateway?: FineractGateway;
  /** The job queue, for its depth. */
  queue?: JobQueue;
  /** Live sessions by channel (a scan of the store: read at most every `SESSIONS_EVERY_MS`). */
  sessions?: () => Promise<Record<string, number>>;
  /** Lookups of unknown numbers refused by FINERACT_UNKNOWN_LOOKUP_SHARE since start. */
  unknownLookupsRefused?: () => number;
}

/** Counting sessions walks the keyspace: scrapes closer together than this reuse the last count. */
export const SESSIONS_EVERY_MS = 10_000;

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
  const sessions = options.sessions;
  if (sessions) {
    let last: { at: number; counts: Record<string, number> } | undefined;
    new Gauge({
      name: 'kiunga_sessions_active',
      help: `Sessions with a live record in the store (all processes), by channel; counted at most every ${SESSIONS_EVERY_MS / 1000} s.`,
      labelNames: ['channel'],
      registers: [registry],
      async collect() {
        try {
          if (!last || Date.now() - last.at >= SESSIONS_EVERY_MS) last = { at: Date.now(), counts: await sessions() };
          for (const [channel, n] of Object.entries(last.counts)) this.set({ channel }, n);
        } catch {
          // Store unavailable: keep the last value.
        }
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
        for (const [priority, n] of Object.entries(queued)) this.set({ priority }, n);
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
    summary: () => summaryOf(registry),
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
