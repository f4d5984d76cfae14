import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/app.js';
import { LogCapture, type TestServer } from '../helpers/server.js';
import { AMINA, AT_KEY, atCall, atPost, placedCalls, PUBLIC_URL, spoken } from '../voice/helpers.js';

/**
 * A call in flight during a hot reload keeps the texts of the flow version it began on: the voice adapters
 * render the runner's neutral turn with the session's texts, never with the server-wide translator.
 */

let root: string;
let services: Services;
let server: Server;
let test: TestServer;
const logs = new LogCapture();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiunga-voice-reload-'));
  await cp('flows', join(root, 'flows'), { recursive: true });
  await cp('locales', join(root, 'locales'), { recursive: true });
  const config = loadConfig({
    FLOWS_DIR: join(root, 'flows'),
    LOCALES_DIR: join(root, 'locales'),
    LOG_LEVEL: 'info',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL,
    AT_CALLBACK_KEY: AT_KEY,
    CALLBACK_DELAY_MS: '50',
    CALLBACK_RETRY_DELAY_S: '0',
  });
  services = await createServices(config, createLogger('info', logs), { watch: true });
  server = buildApp(services).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  test = { url, services, config, logs, ussd: () => Promise.reject(new Error('not used')), close: () => Promise.resolve() };
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await services?.close();
  await rm(root, { recursive: true, force: true });
});

async function until(what: string, done: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('voice during a hot reload', () => {
  it('should finish a call in flight with the texts it began with, while a new call gets the new ones', async () => {
    await atPost(test, {
      sessionId: `ATVId_in_${Date.now()}`,
      direction: 'Inbound',
      isActive: '1',
      callerNumber: AMINA,
      destinationNumber: '+254711082000',
    });
    const [placed] = await placedCalls(test, AMINA, 1);
    const call = atCall(test, AMINA, placed!.id);
    expect(spoken(await call.answer())).toBe(
      'Hello. This is the call you asked for from your bank. Welcome Amina. Enter your PIN: Then press the hash key.',
    );

    const old = services.flows.current('banking')!.version;
    const file = join(root, 'locales/en.json');
    const before = await readFile(file, 'utf8');
    const after = before.replace('"title": "Main menu"', '"title": "Home menu"');
    expect(after).not.toBe(before);
    await writeFile(file, after);
    await until('the new version', () => services.flows.current('banking')!.version !== old);

    // The call in flight: its flow version's texts.
    expect(spoken(await call.press('1234'))).toMatch(/^Main menu For Balance, press 1\./);
    // A new session: the new texts.
    const res = await fetch(`${test.url}/channels/africastalking/ussd?key=${AT_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        sessionId: `ATUid_reload_${Date.now()}`,
        serviceCode: '*384*123#',
        phoneNumber: AMINA,
        text: '1234',
      }).toString(),
    });
    expect(await res.text()).toMatch(/^CON Home menu\n1\. Balance/);
  });
});
