import { Counter, Histogram } from 'prom-client';

/**
 * The turn runner's Prometheus metrics (turn-runner.ts counts and times every hop; the app registers them on
 * /metrics). The flow id is a label, never a number or session.
 */
export interface HopMetrics {
  hops: Counter<'channel' | 'flow' | 'outcome'>;
  hopSeconds: Histogram<'channel'>;
}

/** New hop metrics, registered nowhere yet. */
export function hopMetrics(): HopMetrics {
  return {
    hops: new Counter({
      name: 'kiunga_hops_total',
      help: 'Hops answered, by channel, flow and outcome (continued, ended, replayed, refused, paused, deadline, failed).',
      labelNames: ['channel', 'flow', 'outcome'],
      registers: [],
    }),
    // Around the aggregators' deadlines (USSD answers within a few seconds), so the buckets are dense below 5 s.
    hopSeconds: new Histogram({
      name: 'kiunga_hop_duration_seconds',
      help: 'Time from taking a hop to answering it (lock, flow, Fineract calls, save), by channel.',
      labelNames: ['channel'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8],
      registers: [],
    }),
  };
}
