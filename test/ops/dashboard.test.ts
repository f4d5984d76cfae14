import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * docs/grafana-dashboard.json uses exactly the names /metrics exposes: every `kiunga_*` name in a panel's
 * query or a variable's query is declared by a running server (a histogram's `_bucket`, `_sum` and `_count`
 * count as its own), and every number the issue asks operators to watch has a panel.
 */

interface Target {
  expr?: string;
}
interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string }; definition?: string }[] };
}

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const expressions = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
  ...dashboard.templating.list.map((v) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? ''))),
];
const used = new Set(expressions.flatMap((e) => e.match(/\bkiunga_[a-z0-9_]+/g) ?? []));

/** What the issue asks the dashboard to show, by metric name. */
const REQUIRED = [
  'kiunga_hops_total',
  'kiunga_hop_duration_seconds_bucket',
  'kiunga_fineract_requests_total',
  'kiunga_fineract_request_duration_seconds_bucket',
  'kiunga_fineract_queued',
  'kiunga_fineract_breaker_state',
  'kiunga_jobs_waiting',
  'kiunga_sessions_active',
  'kiunga_pin_lockouts_total',
  'kiunga_otp_sent_total',
  'kiunga_otp_failed_total',
  'kiunga_switch_off',
  'kiunga_audit_head_seq',
];

/** The sample names a Prometheus text exposition declares (`# TYPE` lines; a histogram's three series). */
function declared(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of type === 'histogram' ? ['_bucket', '_sum', '_count'] : ['_sum', '_count']) names.add(name! + suffix);
    } else names.add(name!);
  }
  return names;
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('docs/grafana-dashboard.json', () => {
  it('should be a Grafana dashboard whose panels query Prometheus through the datasource variable', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]+$/);
    expect(dashboard.schemaVersion).toBeGreaterThan(30);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    const queried = panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const panel of queried) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('should show every number the operators are asked to watch', () => {
    expect(REQUIRED.filter((name) => !used.has(name))).toEqual([]);
  });

  it('should use only metric names a running server exposes at /metrics', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const exposed = declared(await res.text());
    expect([...used].filter((name) => !exposed.has(name)).sort()).toEqual([]);
  });
});
