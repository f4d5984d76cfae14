import { appendFileSync } from 'node:fs';
import type { InvariantReport } from './invariants.js';
import type { Deployment } from './cluster.js';
import type { HopRecord } from './traffic.js';

/**
 * Appends one scenario's report (and its own figures, `extra`) as a JSON line to RESILIENCE_RESULTS when set
 * (docs/resilience.md's results table is made from such a run); otherwise does nothing.
 */
export function recordResult(scenario: string, report: InvariantReport, extra: Record<string, number> = {}): void {
  const file = process.env.RESILIENCE_RESULTS;
  if (!file) return;
  const { violations, ...figures } = report;
  appendFileSync(
    file,
    `${JSON.stringify({ scenario, ...figures, ...extra, violations: violations.length, details: violations.slice(0, 5) })}\n`,
  );
}

/**
 * With RESILIENCE_DEBUG set, appends a failed scenario's violations, its hops and every warning or error
 * line of the Kiunga processes to that file (for reading a failure).
 */
export function dumpHops(violations: string[], hops: readonly HopRecord[], d: Deployment): void {
  const file = process.env.RESILIENCE_DEBUG;
  if (!file) return;
  const lines = d.kiunga.flatMap((k) => k.lines.filter((l) => /"level":(40|50|60)/.test(l)).map((l) => `${k.name} ${l}`));
  appendFileSync(file, `${JSON.stringify({ violations, hops, lines })}\n`);
}
