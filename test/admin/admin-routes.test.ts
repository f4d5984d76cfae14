/**
 * The admin routes over real HTTP (issue 10, threat T17): the separate admin listener (ADMIN_PORT: the public
 * port answers 404 for /admin), unlock of a client Fineract does not know (404), active sessions by channel,
 * locked customers, and four eyes on switching money back on, with what the audit trail records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { buildAdminApp, buildApp } from '../../src/app.js';
import { atSession, LogCapture, REDIS_URL, startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice-token-for-route-tests-0123456789';
const BOB = 'bob-token-for-route-tests-0123456789ab';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ ADMIN_TOKENS: `alice:${ALICE},bob:${BOB}`, ADMIN_FOUR_EYES: 'true' });
});
afterAll(async () => {
  await server?.close();
});

const admin = (base: string, method: string, path: string, token = ALICE, body?: unknown) =>
  fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: (await r.text().then((t) => (t.startsWith('{') ? JSON.parse(t) : t))) as never }));

async function listen(app: ReturnType<typeof buildApp>): Promise<{ url: string; server: Server }> {
  const s = app.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, server: s };
}

describe('the admin listener (ADMIN_PORT)', () => {
  let services: Services;
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await services?.close();
  });

  it('should serve /admin only on the admin listener, and 404 for /admin on the public one', async () => {
    const config = loadConfig({
      REDIS_URL,
      REDIS_PREFIX: `kiunga-test-${randomBytes(4).toString('hex')}`,
      ADMIN_TOKENS: `alice:${ALICE}`,
      ADMIN_PORT: '3999', // the port kiunga serve would bind; the test binds both apps to free ports
    });
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 3999 });
    services = await createServices(config, createLogger('info', new LogCapture()));
    const publicApp = await listen(buildApp(services));
    const adminApp = await listen(buildAdminApp(services));
    servers.push(publicApp.server, adminApp.server);

    for (const path of ['/admin/switches', '/admin/openapi.json', '/admin/customers/1/pin', '/admin/console']) {
      const r = await admin(publicApp.url, 'GET', path);
      expect([path, r.status]).toEqual([path, 404]);
    }
    expect((await admin(adminApp.url, 'GET', '/admin/switches')).status).toBe(200);
    expect((await admin(adminApp.url, 'GET', '/admin/openapi.json', '')).status).toBe(200);
    expect((await admin(adminApp.url, 'GET', '/admin/switches', 'wrong-token-wrong-token-00')).status).toBe(401);
    // The admin listener serves nothing else.
    expect((await fetch(`${adminApp.url}/healthz`)).status).toBe(404);
    expect((await fetch(`${adminApp.url}/channels/africastalking/ussd`, { method: 'POST' })).status).toBe(404);
    // The public listener still serves customers.
    expect((await fetch(`${publicApp.url}/healthz`)).status).toBe(200);
  });
});

describe('admin routes', () => {
  it('should answer 404 to an unlock of a client Fineract does not know, and unlock a known one', async () => {
    const unknown = await admin(server.url, 'DELETE', '/admin/customers/987654/pin/lock');
    expect(unknown).toEqual({ status: 404, json: { error: 'no such client' } });
    const { pins } = server.services;
    for (let i = 0; i < 5; i++) await pins.verify(4, '0000');
    expect(await pins.isLocked(4)).toBe(true);
    expect((await admin(server.url, 'DELETE', '/admin/customers/4/pin/lock')).status).toBe(200);
    expect(await pins.isLocked(4)).toBe(false);
  });

  it('should list locked customers, and drop them once unlocked', async () => {
    const { pins } = server.services;
    for (let i = 0; i < 5; i++) await pins.verify(3, '0000');
    const locked = await admin(server.url, 'GET', '/admin/customers/locked');
    expect(locked.status).toBe(200);
    expect((locked.json as { customers: { clientId: number; hard: boolean }[] }).customers).toContainEqual(
      expect.objectContaining({ clientId: 3, hard: false }),
    );
    await admin(server.url, 'DELETE', '/admin/customers/3/pin/lock');
    const after = await admin(server.url, 'GET', '/admin/customers/locked');
    expect((after.json as { customers: { clientId: number }[] }).customers.map((c) => c.clientId)).not.toContain(3);
  });

  it('should count active sessions by channel', async () => {
    const before = (await admin(server.url, 'GET', '/admin/sessions/count')).json as { sessions: Record<string, number>; total: number };
    await atSession(server, '+254711000001').send();
    await atSession(server, '+254711000002').send();
    const after = (await admin(server.url, 'GET', '/admin/sessions/count')).json as { sessions: Record<string, number>; total: number };
    expect(Object.keys(after.sessions).sort()).toEqual(['sms', 'ussd', 'voice']);
    expect(after.sessions.ussd! - before.sessions.ussd!).toBe(2);
    expect(after.total).toBe(after.sessions.ussd! + after.sessions.sms! + after.sessions.voice!);
  });

  it('should take a second, different operator to switch money back on with ADMIN_FOUR_EYES, and audit both steps', async () => {
    expect((await admin(server.url, 'PUT', '/admin/switches/money', ALICE, { off: true, reason: 'fraud wave' })).status).toBe(200);
    expect(await admin(server.url, 'PUT', '/admin/switches/money', ALICE, { off: false })).toEqual({
      status: 202,
      json: { status: 'pending', requestedBy: 'alice' },
    });
    const listed = (await admin(server.url, 'GET', '/admin/switches')).json as {
      fourEyes: boolean;
      switches: { scope: string; off: boolean; pending?: { requestedBy: string } }[];
    };
    expect(listed.fourEyes).toBe(true);
    expect(listed.switches.find((s) => s.scope === 'money')).toMatchObject({ off: true, pending: { requestedBy: 'alice' } });
    const again = await admin(server.url, 'PUT', '/admin/switches/money', ALICE, { off: false });
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.json)).not.toContain('alice');
    expect(server.services.switches!.moneyAllowed()).toBe(false);
    expect(await admin(server.url, 'PUT', '/admin/switches/money', BOB, { off: false })).toMatchObject({
      status: 200,
      json: { off: false, by: 'bob' },
    });
    expect(server.services.switches!.moneyAllowed()).toBe(true);

    await server.services.audit.flush();
    const entries: { type: string; actor: string; data?: Record<string, unknown> }[] = [];
    for await (const r of server.services.audit.entries()) entries.push(r.entry as never);
    const switchEntries = entries
      .filter((e) => e.type.startsWith('switch.'))
      .map((e) => [e.type, e.actor, e.data?.off, e.data?.requestedBy ?? null]);
    expect(switchEntries).toEqual([
      ['switch.changed', 'operator:alice', true, null],
      ['switch.requested', 'operator:alice', false, null],
      ['switch.changed', 'operator:bob', false, 'alice'],
    ]);
    expect(entries.find((e) => e.type === 'switch.changed')?.data?.reason).toBe('fraud wave');
  });

  it('should expose the switch states on /metrics', async () => {
    await admin(server.url, 'PUT', '/admin/switches/channel:sms', ALICE, { off: true, reason: 'provider outage' });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^kiunga_switch_off\{scope="channel:sms"\} 1$/m);
    expect(text).toMatch(/^kiunga_switch_off\{scope="money"\} 0$/m);
    await admin(server.url, 'PUT', '/admin/switches/channel:sms', ALICE, { off: false });
  });
});
