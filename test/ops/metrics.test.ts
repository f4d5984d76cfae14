import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, atSession, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GET /metrics', () => {
  it('should expose request counts, latencies and gateway state without personal data', async () => {
    const s = atSession(server, '+254711000001');
    await s.send();
    await s.send('1234');
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('kiunga_http_requests_total{route="/channels/africastalking/ussd",status="200"}');
    expect(text).toContain('kiunga_http_request_duration_seconds_bucket');
    expect(text).toMatch(/kiunga_fineract_breaker_state\{upstream="primary"\} 0/);
    expect(text).toContain('kiunga_fineract_queued{priority="read"}');
    expect(text).toMatch(/^kiunga_sessions_active\{channel="ussd"\} [1-9]\d*$/m);
    expect(text).toMatch(/^kiunga_sessions_active\{channel="sms"\} 0$/m);
    expect(text).not.toContain('254711000001');
    expect(text).not.toContain(s.sessionId);
  });

  it('should count hops by channel, flow and outcome, with their latency and the Fineract calls they made', async () => {
    const s = atSession(server, '+254711000001');
    await s.send();
    await s.resend();
    await s.send('1234');
    await s.send('1');
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('kiunga_hops_total{channel="ussd",flow="banking",outcome="continued"}')).toBeGreaterThanOrEqual(2);
    expect(value('kiunga_hops_total{channel="ussd",flow="banking",outcome="replayed"}')).toBeGreaterThanOrEqual(1);
    expect(value('kiunga_hops_total{channel="ussd",flow="banking",outcome="ended"}')).toBeGreaterThanOrEqual(1);
    expect(value('kiunga_hop_duration_seconds_count{channel="ussd"}')).toBeGreaterThanOrEqual(4);
    expect(value('kiunga_fineract_requests_total{upstream="primary",kind="read",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^kiunga_fineract_request_duration_seconds_bucket\{le="[^"]+",upstream="primary",kind="read"\} \d+$/m);
    expect(text).toMatch(/^kiunga_jobs_waiting\{state="waiting"\} \d+$/m);
    expect(text).toMatch(/^kiunga_jobs_waiting\{state="delayed"\} \d+$/m);
  });

  it('should count a Fineract call that failed as unavailable', async () => {
    const { control } = server.services.sandbox!;
    control.failMode = '500';
    try {
      expect((await atSession(server, '+254711000002').send()).body).toMatch(/^END /);
    } finally {
      control.failMode = 'none';
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^kiunga_fineract_requests_total\{upstream="primary",kind="read",outcome="unavailable"\} [1-9]\d*$/m);
  });

  it('should count the maintenance answer of a switched-off flow as a paused hop', async () => {
    const switches = server.services.switches!;
    await switches.change('flow:banking', { off: true, reason: 'metrics test' }, 'test');
    try {
      expect((await atSession(server, '+254711000003').send()).body).toMatch(/^END .*maintenance/);
    } finally {
      await switches.change('flow:banking', { off: false }, 'test');
    }
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^kiunga_hops_total\{channel="ussd",flow="banking",outcome="paused"\} 1$/m);
  });

  it('should count a PIN lockout once, by kind', async () => {
    const s = atSession(server, '+254711000004');
    await s.send();
    for (const pin of ['0000', '0001', '0002']) await s.send(pin);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^kiunga_pin_lockouts_total\{kind="timed"\} 1$/m);
    expect(text).not.toContain('254711000004');
  });

  it("should report readiness of Redis, Fineract and this process's clock", async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', store: 'ok', storeKind: 'redis', fineract: 'ok', clock: 'ok' });
  });
});
