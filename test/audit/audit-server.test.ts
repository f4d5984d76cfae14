import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { freshDir, KEYS } from './helpers.js';

/**
 * The audit trail as the server wires it (threat T16): created by the services with its checkpoints, read by
 * operators behind the admin gate, its head on /metrics.
 */

const TOKEN = 'audit-test-operator-token-0123456789';
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    ADMIN_TOKENS: `amina:${TOKEN}`,
    AUDIT_SIGNING_KEY: KEYS.privateKey,
    AUDIT_VERIFY_KEY: KEYS.publicKey,
    AUDIT_CHECKPOINT_DIR: freshDir(),
    AUDIT_CHECKPOINT_EVERY: '2',
  });
});
afterAll(async () => {
  await server?.close();
});

const admin = (path: string, token = TOKEN) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe('audit trail in the server', () => {
  it('should serve the trail to operators only, and audit their calls', async () => {
    expect((await admin('/admin/audit', 'not-the-token-at-all-000000')).status).toBe(401);
    expect((await fetch(`${server.url}/admin/audit/export`)).status).toBe(401);
    await admin('/admin/audit?limit=1');
    await admin('/admin/audit?limit=1');
    await server.services.audit.flush();
    const page = (await (await admin('/admin/audit?limit=500')).json()) as {
      entries: { entry: { type: string; actor: string; data?: Record<string, unknown> } }[];
    };
    const calls = page.entries.filter((e) => e.entry.type === 'admin.call' && e.entry.data?.route === '/admin/audit');
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]!.entry.actor).toBe('operator:amina');
    const verdict = (await (await admin('/admin/audit/verify')).json()) as { ok: boolean; checkpoints: number };
    expect(verdict.ok).toBe(true);
    expect(verdict.checkpoints).toBeGreaterThanOrEqual(1);
  });

  it('should show the head of the chain on /metrics', async () => {
    await server.services.audit.flush();
    const head = (await server.services.audit.page(undefined, 500)).entries.length;
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = Number(/^kiunga_audit_head_seq (\d+)$/m.exec(text)?.[1]);
    expect(value).toBeGreaterThanOrEqual(head);
  });
});
