import { appendFileSync } from 'node:fs';
import type { InvariantReport } from './invariants.js';

/**
 * Appends one scenario's report as a JSON line to RESILIENCE_RESULTS when set (docs/resilience.md's results
 * table is made from such a run); otherwise does nothing.
 */
export function recordResult(scenario: string, report: InvariantReport): void {
  const file = process.env.RESILIENCE_RESULTS;
  if (!file) return;
  const { violations, ...figures } = report;
  appendFileSync(file, `${JSON.stringify({ scenario, ...figures, violations: violations.length, details: violations.slice(0, 5) })}\n`);
}

/** With RESILIENCE_DEBUG set, writes every hop of a scenario to that file (for reading a failure). */
export function dumpHops(scenario: string, hops: readonly unknown[]): void {
  const file = process.env.RESILIENCE_DEBUG;
  if (file) appendFileSync(file, `${JSON.stringify({ scenario, hops })}\n`);
}
