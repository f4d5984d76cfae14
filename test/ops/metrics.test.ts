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
    expect(text).not.toContain('254711000001');
    expect(text).not.toContain(s.sessionId);
  });

  it('should report readiness of Redis and Fineract', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', store: 'ok', storeKind: 'redis', fineract: 'ok' });
  });
});
